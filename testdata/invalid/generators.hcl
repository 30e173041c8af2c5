test "gens" {
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

phase "types" {
  clients = mix([operation.read, "read"]) # ERROR: not a generator
}

phase "durations" {
  clients = stagger("fast", operation.read) # ERROR: Invalid function argument
}

phase "arity" {
  clients = once(operation.read, operation.read) # ERROR: Too many function arguments
}

phase "routing" {
  clients = [operation.read, fault.part.start] # ERROR: belongs to the nemesis
}

phase "routing2" {
  nemesis = cycle([fault.part.start, operation.read]) # ERROR: belongs to the clients
}

phase "random" {
  time_limit = "10s"
  clients    = limit(random_int(1, 5), operation.read) # ERROR: only
}

phase "missing" {
  clients = operation.raed # ERROR: Unsupported attribute
  nemesis = fault.part.begin # ERROR: Unsupported attribute
}

phase "limit" {
  time_limit = "-5s" # ERROR: Invalid value for time_limit
  clients    = limit(0, operation.read) # ERROR: Invalid function argument
}

phase "routed" {
  generator = any(clients(operation.read), nemesis([sleep("1s"), fault.part.start]))
}

phase "misrouted" {
  generator = clients(fault.part.start) # ERROR: belongs to the nemesis
}

phase "misrouted2" {
  generator = nemesis(operation.read) # ERROR: belongs to the clients
}

phase "unrouted" {
  generator = [operation.read, fault.part.stop] # ERROR: is not routed
}
