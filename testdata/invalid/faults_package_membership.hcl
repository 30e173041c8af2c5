test "bad-membership" {
  nodes = ["n1", "n2", "n3"]
}

client "exec" {
}

operation "read" {
  command = "cat /tmp/x"
}

fault "members" {
  type        = "membership"
  view        = "members-of ${member.name}" # ERROR: Unknown variable
  add         = "join ${member.nmae}" # ERROR: Unsupported attribute
  remove      = ["leave", 3, node] # ERROR: Invalid value for remove
  min_members = 4 # ERROR: Invalid value for min_members
}

fault "members2" { # ERROR: Missing required argument
  type            = "membership"
  view            = "true"
  add             = "true"
  pending_timeout = "0s" # ERROR: longer than zero
}

phase "main" {
  clients = operation.read
  nemesis = [fault.members.start, fault.members2.start]
}
