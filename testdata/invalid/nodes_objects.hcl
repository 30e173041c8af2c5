test "nodes" {
  nodes = [{ name = "n1", host = "10.0.0.1" }, { host = "10.0.0.2" }] # ERROR: needs a name
}

phase "main" {
  clients = sleep("1s")
}
