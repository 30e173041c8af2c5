# Expressions deep inside operations are checked with unknown run-time
# values: typos in op, response and node are caught before any run.
test "ops" {
  nodes = ["n1", "n2", "n3"]
}

client "http" {
  base_url = "http://${node.host}:2379"
  timeout  = "soon" # ERROR: Invalid value for timeout
}

operation "write" {
  value = random_int(0, 4)
  request {
    method = "POST"
    path   = "/v3/kv/put/${random_int(0, 9)}" # ERROR: random_int can only
    body   = jsonencode({ value = base64encode(tostring(op.vlaue)) }) # ERROR: Unsupported attribute
  }
  result = { type = response.stauts == 200 ? "ok" : "info" } # ERROR: Unsupported attribute
}

operation "cas" {
  value = [random_int(0, 4), random_int(0, 4)]
  request {
    method = "YEET" # ERROR: Invalid value for method
    path   = "/v3/kv/txn"
    body   = op.value[1] + "x" # ERROR: Invalid operand
  }
  result = { type = "success" } # ERROR: it must be "ok", "fail" or "info"
}

operation "read" { # ERROR: Missing request block
  value = op.value # ERROR: Unsupported attribute
  result = { type = "ok", note = "x" } # ERROR: Unexpected attribute "note"
}

operation "shell" {
  request {
    path = "/health"
  }
  command = ["echo", "hi"] # ERROR: Command needs an exec client
}

phase "main" {
  clients = mix([operation.write, operation.cas, operation.read, operation.shell, operation.again])
}

operation "again" {
  f = "write" # ERROR: Two operations record the same f
  request {
    path = "/"
  }
}
