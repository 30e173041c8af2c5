test "align" {
  nodes       = ["n1", "n2"]
  concurrency = "2n"
  seed        = 42
}
