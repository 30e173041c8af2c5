# The sql client's operations, for the client's unit tests: a list-append
# txn, a bank transfer and a bank read.
test "sql" {}

client "sql" {
  host      = nodes[0].host
  isolation = "repeatable read"
  timeout   = "2s"
}

operation "txn" {
  value = [["append", random_int(0, 3), random_int(0, 100)], ["r", random_int(0, 3), null]]
  micro_ops = {
    r      = "SELECT vals FROM lists WHERE k = $1"
    append = "INSERT INTO lists AS l (k, vals) VALUES ($1, ARRAY[$2::bigint]) ON CONFLICT (k) DO UPDATE SET vals = l.vals || $2::bigint"
  }
}

operation "transfer" {
  value = { from = random_int(0, 4), to = random_int(0, 4), amount = random_int(1, 5) }
  statements = [
    ["UPDATE accounts SET balance = balance - $1 WHERE id = $2", op.value.amount, op.value.from],
    ["UPDATE accounts SET balance = balance + $1 WHERE id = $2", op.value.amount, op.value.to],
  ]
}

operation "read" {
  statements = ["SELECT id, balance FROM accounts ORDER BY id"]
  result = {
    type  = "ok"
    value = { for r in response.rows : tostring(r.id) => r.balance }
  }
}

# The fake server of the tests acts on words in a statement: it drops the
# connection, stalls, or fails with a serialization failure.
operation "drop" {
  statements = ["SELECT 1", "SELECT DROP_CONNECTION"]
}

operation "stall" {
  statements = ["SELECT STALL"]
}

operation "conflict" {
  statements = [["UPDATE accounts SET balance = 0 WHERE id = $1 -- CONFLICT", 1]]
}

phase "main" {
  clients = mix([operation.txn, operation.transfer, operation.read, operation.drop, operation.stall, operation.conflict])
}
