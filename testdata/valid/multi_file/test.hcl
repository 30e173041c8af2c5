# A plan split across files: one directory is one plan.
test "split" {
  nodes = ["n1", "n2", "n3"]
}

client "process" {
  command = ["python3", "${path.plan}/client.py"]
  timeout = "2s"
}
