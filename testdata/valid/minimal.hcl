# The smallest useful plan: one node, a shell register, one phase.
test "minimal" {
  nodes  = ["localhost"]
  remote = "local"
}

client "exec" {
}

operation "read" {
  command = "cat /tmp/jplan-register 2>/dev/null || true"
  result = {
    type  = response.exit_code == 0 ? "ok" : "fail"
    value = response.stdout == "" ? null : tonumber(trimspace(response.stdout))
  }
}

operation "write" {
  value   = random_int(1, 100)
  command = "echo ${op.value} > /tmp/jplan-register"
}

phase "main" {
  clients = limit(100, mix([operation.read, operation.write]))
}

checker "linearizable" {
  model = "register"
}
