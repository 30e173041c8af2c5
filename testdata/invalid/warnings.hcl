# A valid plan with things worth a warning.
test "warnings" {
  nodes  = ["n1", "n2", "n3"]
  remote = "ssh"
}

docker { # WARNING: docker block unused
  container = "jplan-${node.name}"
}

client "exec" {
}

operation "read" {
  command = "cat /tmp/register"
}

operation "unused" { # WARNING: not used by any phase
  command = "true"
}

fault "spare" { # WARNING: never started or stopped
  type = "partition"
}

phase "main" {
  clients = operation.read
}
