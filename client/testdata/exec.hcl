test "exec" {
  nodes = ["n1"]
}

client "exec" {
  timeout = "3s"
  env     = { GREETING = "hello" }
}

operation "json" {
  value   = random_int(0, 9)
  command = "printf '{\"v\": %s}' ${op.value}"
  result  = { type = "ok", value = response.json.v }
}

operation "exit" {
  value   = random_int(0, 3)
  command = ["sh", "-c", "echo oops >&2; exit ${op.value}"]
}

operation "env" {
  command = "printf '%s on %s' \"$GREETING\" ${node.name}"
  result  = { type = "ok", value = response.stdout }
}

operation "stdin" {
  value   = "up"
  command = ["tr", "a-z", "A-Z"]
  stdin   = "shout ${op.value}"
  result  = { type = response.exit_code == 0 ? "ok" : "fail", value = response.stdout }
}

# Starts a grandchild that would outlive a careless kill; op.value is the
# file its pid is written to.
operation "hang" {
  value   = "/tmp/jplan-hang.pid"
  command = "sleep 30 & echo $! > ${op.value}; wait"
  timeout = "300ms"
}

operation "argv" {
  value   = ["true"]
  command = op.value
}

operation "bigout" {
  command = "head -c 17000000 /dev/zero"
}

phase "main" {
  clients = mix([operation.json, operation.exit, operation.env, operation.stdin, operation.hang, operation.argv, operation.bigout])
}
