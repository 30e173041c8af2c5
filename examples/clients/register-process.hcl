# A register kept by a small Python program speaking jplan's process-client
# protocol (docs/clients.md): each worker starts its own copy of
# register.py, which keeps the register in a file on this machine. Nothing
# here needs a cluster: run it with
#
#   jplan run examples/clients/register-process.hcl
#
# Point register.py at etcd instead (--etcd 'http://{host}:2379') to test a
# real database with the same plan.

variable "register_file" {
  type        = string
  default     = "/tmp/jplan-register.json"
  description = "The file holding the register."
}

test "register-process" {
  nodes       = ["localhost"]
  remote      = "local"
  concurrency = 4
  seed        = 7
}

client "process" {
  command = ["python3", "${path.plan}/register.py", "--file", var.register_file]
  timeout = "2s"
  env     = { PYTHONUNBUFFERED = "1" }
}

# Without a result expression, the program's reply is the completion:
# {"type": "ok", "value": 3}, {"type": "fail"}, ...
operation "read" {}

operation "write" {
  value = random_int(0, 4)
}

operation "cas" {
  value = [random_int(0, 4), random_int(0, 4)]
}

phase "main" {
  time_limit = "10s"
  clients    = stagger("10ms", mix([operation.read, operation.write, operation.cas]))
}

phase "final" {
  final   = true
  clients = each_thread(once(operation.read))
}

checker "linearizable" {
  model = "cas-register"
}

checker "stats" {}
