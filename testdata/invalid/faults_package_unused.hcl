# A faults block no phase uses is worth a warning; so are its faults, which
# nothing else schedules.
test "unused-package" {
  nodes = ["n1", "n2", "n3"]
}

client "exec" {
}

operation "read" {
  command = "cat /tmp/x"
}

fault "part" { # WARNING: never started or stopped
  type = "partition"
}

faults "idle" { # WARNING: schedule it with nemesis = faults.idle.generator
  faults = [fault.part]
}

phase "main" {
  clients = limit(10, operation.read)
}
