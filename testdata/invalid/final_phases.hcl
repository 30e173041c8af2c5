# Final phases must come after every other phase.
variable "final_read" {
  type    = bool
  default = true
}

test "final-order" {
  nodes      = ["n1", "n2", "n3"]
  time_limit = "30s"
}

client "exec" {
}

operation "read" {
  command = "cat /tmp/register"
}

fault "part" {
  type = "partition"
}

phase "main" {
  final      = false
  time_limit = "10s"
  clients    = operation.read
  nemesis    = cycle([sleep("1s"), fault.part.start, sleep("1s"), fault.part.stop])
}

phase "heal" {
  final   = true
  nemesis = fault.part.stop
}

phase "again" { # ERROR: phase "again" is not final but comes after the final phase "heal"
  clients = limit(5, operation.read)
}

phase "more" {
  final   = false # ERROR: phase "more" is not final but comes after the final phase "heal"
  clients = limit(5, operation.read)
}

phase "typo" {
  final   = "yes please" # ERROR: Invalid value for final
  clients = limit(5, operation.read)
}

phase "final" {
  final   = var.final_read
  clients = each_thread(once(operation.read))
}
