# A register in jplan's own memory: try jplan without a cluster.
#
#   jplan run examples/memory.hcl                          # linearizable
#   jplan run examples/memory.hcl -var stale_reads=true   # it is not
#
# The memory client serves read, write and cas on one register; with
# stale_reads every node answers reads from a replica that lags behind, and
# the linearizability checker finds the stale read.

variable "stale_reads" {
  type    = bool
  default = false
}

test "memory-register" {
  nodes       = ["n1", "n2", "n3"]
  remote      = "local"
  concurrency = "2n"
  seed        = 1
}

client "memory" {
  stale_reads = var.stale_reads
  jitter      = "2ms"
}

operation "read" {}

operation "write" {
  value = random_int(0, 4)
}

operation "cas" {
  value = [random_int(0, 4), random_int(0, 4)]
}

phase "main" {
  time_limit = "5s"
  clients    = stagger("2ms", mix([operation.read, operation.write, operation.cas]))
}

phase "final" {
  final   = true
  clients = each_thread(once(operation.read))
}

checker "linearizable" {
  model = "cas-register"
}

checker "stats" {}
checker "perf" {}
checker "timeline" {}
