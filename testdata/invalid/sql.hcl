# The sql client's arguments and operations are checked before any run:
# the isolation level, dsn against host, the micro_ops keys and the
# parameters a statement uses against those it gives.
test "sql" {
  nodes = ["n1", "n2", "n3"]
}

client "sql" {
  host      = nodes[0].host # ERROR: Both dsn and host
  port      = 70000 # ERROR: out of range
  dsn       = "postgres://postgres@n1/postgres"
  user      = "postgres" # ERROR: dsn is the whole connection string
  isolation = "snapshot" # ERROR: "serializable", "repeatable read", "read committed" or "read uncommitted"
}

operation "txn" {
  value = [["append", 1, 2]]
  micro_ops = {
    r   = "SELECT v FROM t WHERE k = $1"
    inc = "UPDATE t SET v = v + 1 WHERE k = $1" # ERROR: not a micro-op kind
  }
}

operation "wide" {
  value     = [["w", 1, 2]]
  micro_ops = { w = "UPDATE t SET v = $2 WHERE k = $1 AND $3" } # ERROR: only $1 (the key) and $2 (the value)
}

operation "transfer" {
  value = { from = 1, to = 2, amount = 3 }
  statements = [
    ["UPDATE a SET b = b - $1 WHERE id = $2", op.value.amount], # ERROR: uses 2 parameters ($1 to $2) but gives 1
    "UPDATE a SET b = b + $1", # ERROR: write it as a list
    ["UPDATE a SET b = b + $1 WHERE id = $2", op.value.amount, op.value.to],
  ]
}

operation "both" {
  micro_ops  = { r = "SELECT 1" }
  statements = ["SELECT 1"] # ERROR: Both micro_ops and statements
}

operation "neither" {} # ERROR: Missing micro_ops or statements

operation "reader" {
  statements = ["SELECT id, balance FROM a"]
  result     = { type = "ok", value = response.rowz } # ERROR: Unsupported attribute
}

operation "command" {
  statements = ["SELECT 1"]
  command    = ["true"] # ERROR: Command needs an exec client
}

phase "main" {
  clients = mix([operation.txn, operation.wide, operation.transfer, operation.both, operation.neither, operation.reader, operation.command])
}
