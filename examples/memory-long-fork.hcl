# Jepsen's long-fork workload on jplan's in-memory store: writes of fresh
# keys, and reads of small groups of keys. A database that lets two readers
# see two concurrent writes in opposite orders (parallel snapshot isolation
# does; snapshot isolation does not) has a long fork. The memory store is
# serializable: expect none.
#
#   jplan run examples/memory-long-fork.hcl

test "memory-long-fork" {
  nodes       = ["n1", "n2", "n3"]
  remote      = "local"
  concurrency = "2n"
  seed        = 1
}

client "memory" {
  jitter = "1ms"
}

operation "txn" {
  value = long_fork_txn({ group_size = 3 })
}

phase "main" {
  time_limit = "5s"
  clients    = stagger("1ms", operation.txn)
}

checker "long-fork" {}
checker "stats" {}
