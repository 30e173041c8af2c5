test "process" {
  nodes = ["n1", "n2"]
}

client "process" {
  command = ["false"]
  timeout = "1s"
}

operation "read" {}

operation "write" {
  value = random_int(0, 9)
}

operation "cas" {
  value = [random_int(0, 4), random_int(0, 4)]
}

# The reply's shape is the program's own; the result maps it.
operation "mapped" {
  result = {
    type  = response.status == "done" ? "ok" : "fail"
    value = response.answer
  }
}

operation "slow" {
  timeout = "300ms"
}

# A transaction: the program runs the micro-ops and fills in the reads.
operation "txn" {
  value = [["append", random_int(0, 3), random_int(0, 9)], ["r", random_int(0, 3), null]]
}

operation "crash" {}
operation "garbage" {}
operation "number" {}

phase "main" {
  clients = mix([operation.read, operation.write, operation.cas, operation.mapped, operation.slow, operation.crash, operation.garbage, operation.number, operation.txn])
}
