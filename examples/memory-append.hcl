# List-append transactions on jplan's in-memory key-value store, checked the
# way Elle checks them: try the transactional checkers without a cluster.
#
#   jplan run examples/memory-append.hcl                                # valid
#   jplan run examples/memory-append.hcl -var 'isolation=read committed' # not
#
# Each txn reads and appends to a few keys (Elle's generator: 5 active
# keys, hot ones more likely, retired after their share of writes). At
# "read committed" the store lets other transactions run between a
# transaction's reads, and the checker finds the read skew and write skew
# that serializability forbids (G-single, G2-item).

variable "isolation" {
  type    = string
  default = "serializable"
}

test "memory-append" {
  nodes       = ["n1", "n2", "n3"]
  remote      = "local"
  concurrency = "2n"
  seed        = 1
}

client "memory" {
  isolation = var.isolation
  jitter    = "1ms"
}

operation "txn" {
  value = list_append_txn({ key_count = 5, max_length = 4 })
}

phase "main" {
  time_limit = "5s"
  clients    = stagger("1ms", operation.txn)
}

checker "list-append" {
  consistency_models = ["serializable"]
}

checker "stats" {}
checker "perf" {}
