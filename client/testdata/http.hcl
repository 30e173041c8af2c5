test "http" {
  nodes = ["n1"]
}

client "http" {
  base_url = "http://${node.host}:7000/api"
  timeout  = "2s"
  headers  = { "X-Client" = "client", "X-Both" = "client" }
}

# Maps the JSON body: 200 ok with the value, 404 fail, else info.
operation "read" {
  request {
    path    = "/r"
    query   = { consistent = "true" }
    headers = { "X-Both" = "op" }
  }
  result = {
    type  = response.status == 200 ? "ok" : (response.status == 404 ? "fail" : "info")
    value = try(response.json.value, null)
    error = response.status == 200 ? null : "status ${response.status}"
  }
}

# No result expression: eval's default (2xx ok, else info).
operation "write" {
  value = random_int(0, 9)
  request {
    method = "PUT"
    path   = "/r"
    body   = jsonencode({ value = op.value, process = op.process, node = op.node })
  }
}

operation "slow" {
  request {
    path = "/slow"
  }
  timeout = "200ms"
}

operation "get" {
  value = "r"
  request {
    path = "/${op.value}"
  }
}

phase "main" {
  clients = mix([operation.read, operation.write, operation.slow, operation.get])
}
