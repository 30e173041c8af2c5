test "nothing" { # ERROR: No phases
  nodes = ["n1"]
}
