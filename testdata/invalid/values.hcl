variable "count" {
  type    = number
  default = "many" # ERROR: Invalid value for variable
}

variable "kind" {
  type = lisst(string) # ERROR: type
}

locals {
  a = local.b # ERROR: Cycle in locals
  b = local.a
  c = var.nope # ERROR: Unsupported attribute
}

test "values" {
  nodes       = ["n1", "n2", "n3"]
  concurrency = "3x" # ERROR: Invalid value for concurrency
  seed        = 1.5 # ERROR: Invalid value for seed
  remote      = "telnet" # ERROR: Invalid value for remote
}

ssh {
  port             = 70000 # ERROR: out of range
  known_hosts_file = "~/.ssh/known_hosts"
  insecure_ignore_host_key = true # ERROR: Conflicting host key settings
}

os "debian" {
  packages = "etcd-server" # ERROR: Invalid value for packages
}

db "d" {
  daemon "x" {
    command = "/bin/x"
  }
}

fault "p1" {
  type     = "partition"
  topology = "thirds" # ERROR: Invalid value for topology
}

fault "p2" {
  type     = "partition"
  topology = [["n1"], ["n1", "n2"]] # ERROR: in two components
}

fault "k" {
  type    = "kill"
  daemon  = "etcd" # ERROR: Expected a daemon reference
  targets = "half" # ERROR: not a target selection
}

fault "k2" {
  type    = "kill"
  daemon  = db.d.daemon.x
  targets = ["n9"] # ERROR: is not one of the test's nodes
}

fault "clock" { # ERROR: Missing delta
  type = "clock"
}

fault "net" {
  type = "packet"
  loss = 1.5 # ERROR: not a fraction
}

checker "linearizable" {
  model = "cas" # ERROR: Invalid value for model
}

phase "main" {
  nemesis = [fault.p1.start, fault.p2.start, fault.k.start, fault.k2.start, fault.clock.start, fault.net.start]
}
