# Transaction generators: options are checked, and the call must be the
# whole of an operation's value.
test "txn" {
  nodes  = ["n1"]
  remote = "local"
}

client "process" {
  command = ["true"]
}

operation "txn" {
  value = list_append_txn({ key_count = 0.5 }) # ERROR: option key_count must be a whole number
}

operation "nested" {
  value = concat(list_append_txn(), []) # ERROR: Transaction generator inside an expression
}

operation "short" {
  value = rw_register_txn({ max_length = 2, min_length = 3 }) # ERROR: max_length (2) is less than min_length (3)
}

phase "main" {
  clients = mix([operation.txn, operation.nested, operation.short])
}
