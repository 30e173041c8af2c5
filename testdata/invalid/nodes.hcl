test "nodes" {
  nodes = ["n1", "n2", "n1"] # ERROR: listed twice
}

phase "main" {
  clients = sleep("1s")
}
