# Structural mistakes: each marked line must be reported.
test "decode" {
  nodes   = ["n1", "n2", "n3"]
  threads = 5 # ERROR: Unsupported argument
}

test "again" { # ERROR: Duplicate test block
}

tset "typo" { # ERROR: Unsupported block type
}

variable "x" {
  default = 1
  kind    = "number" # ERROR: Unsupported argument
}

variable "x" { # ERROR: Duplicate variable "x"
}

client "grpc" { # ERROR: Unknown client kind
}

operation "read" {
  value = 1
  request {
    method = "GET"
  }
  request { # ERROR: Duplicate request block
  }
}

operation "read" { # ERROR: Duplicate operation "read"
}

operation "9lives" { # ERROR: Invalid operation name
}

fault "net" {
  type = "partitoin" # ERROR: Unknown fault type
}

fault "crash" { # ERROR: Missing required argument
  type = "kill"
}

fault "pause" {
  type = "pause"
  daemon = db.x.daemon.y # ERROR: Unsupported attribute
  topology = "halves" # ERROR: Unsupported argument
}

fault "dyn" {
  type = var.kind # ERROR: Literal string required
}

checker "linearizable" { # ERROR: Missing required argument
}

checker "bogus" { # ERROR: Unknown checker kind
}

os "arch" { # ERROR: Unsupported os family
}

phase "empty" { # ERROR: Empty phase
}

phase "both" {
  clients   = operation.read
  generator = operation.read # ERROR: Conflicting phase generators
}
