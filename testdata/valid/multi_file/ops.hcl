operation "add" {
  value = random_int(0, 1000000)
}

operation "read" {
}

phase "main" {
  time_limit = "10s"
  clients    = mix([operation.add, operation.add, operation.read])
}

checker "set" {}
checker "stats" {}
