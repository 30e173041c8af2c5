test "bad-packages" {
  nodes = ["n1", "n2", "n3"]
}

client "exec" {
}

operation "read" {
  command = "cat /tmp/x"
}

fault "part" {
  type = "partition"
}

fault "custom" {
  type  = "custom"
  start = "true"
  stop  = "true"
}

faults "empty" {
  faults = [] # ERROR: list is empty
}

faults "typo" {
  faults = [fault.part, fault.prat] # ERROR: Unsupported attribute
}

faults "action" {
  faults = [fault.part.start] # ERROR: not fault.<name>.start
}

faults "string" {
  faults = ["part"] # ERROR: is not a fault
}

faults "twice" {
  faults = [fault.part, fault.part] # ERROR: listed twice
}

faults "interval" {
  faults   = [fault.part]
  interval = "soon" # ERROR: Invalid value for interval
}

faults "zero" {
  faults   = [fault.custom]
  interval = "0s" # ERROR: longer than zero
}

faults "missing" { # ERROR: Missing required argument
  interval = "1s"
}

faults "good" {
  faults = [fault.part, fault.custom]
}

faults "bad name!" { # ERROR: Invalid faults name
  faults = [fault.part]
}

phase "main" {
  clients = operation.read
  nemesis = [faults.zero.generator, faults.good.generator]
}

phase "clients" {
  clients = faults.good.final # ERROR: belongs to the nemesis
}

phase "unknown" {
  nemesis = faults.nope.generator # ERROR: Unsupported attribute
}
