test "flakey" {
  nodes = ["n1", "n2", "n3"]
}

fault "mode" {
  type = "flakey"
  dir  = "/var/lib/kv"
  mode = "lose-writes" # ERROR: Invalid value for mode
}

fault "relative" {
  type = "flakey"
  dir  = "var/lib/kv" # ERROR: not an absolute path
  mode = "drop-writes"
}

fault "root" {
  type = "flakey"
  dir  = "/" # ERROR: root directory
  mode = "drop-writes"
}

fault "spaces" {
  type = "flakey"
  dir  = "/var/lib/my kv" # ERROR: white space
  mode = "drop-writes"
}

fault "size-unit" {
  type = "flakey"
  dir  = "/var/lib/kv"
  mode = "drop-writes"
  size = "256 parsecs" # ERROR: is not a size
}

fault "size-small" {
  type = "flakey"
  dir  = "/var/lib/kv"
  mode = "drop-writes"
  size = "1MiB" # ERROR: out of range
}

fault "size-fraction" {
  type = "flakey"
  dir  = "/var/lib/kv"
  mode = "drop-writes"
  size = 1.5 # ERROR: not a whole number of bytes
}

fault "fractional-seconds" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "drop-writes"
  up_interval   = "1500ms" # ERROR: not a whole number of seconds
  down_interval = "1s"
}

fault "never-down" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "drop-writes"
  down_interval = "0s" # ERROR: at least 1s
}

fault "no-down" {
  type        = "flakey"
  dir         = "/var/lib/kv"
  mode        = "error-writes"
  up_interval = "5s" # ERROR: Missing down_interval
}

fault "negative" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "error-writes"
  down_interval = "-5s" # ERROR: negative
}

fault "power-cycle" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "lose-unfsynced"
  down_interval = "5s" # ERROR: one power failure
}

fault "byte-value" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "corrupt-reads"
  corrupt_byte  = 0 # ERROR: out of range
  corrupt_value = 256 # ERROR: out of range
}

fault "byte-mode" {
  type         = "flakey"
  dir          = "/var/lib/kv"
  mode         = "drop-writes"
  corrupt_byte = 3 # ERROR: corrupt-reads and corrupt-writes modes corrupt bytes
}

fault "missing" { # ERROR: Missing required argument
  type = "flakey"
  dir  = "/var/lib/kv"
}

fault "unknown" {
  type      = "flakey"
  dir       = "/var/lib/kv"
  mode      = "drop-writes"
  probability = 0.5 # ERROR: Unsupported argument
}

phase "main" {
  nemesis = [
    fault.mode.start, fault.relative.start, fault.root.start, fault.spaces.start,
    fault.size-unit.start, fault.size-small.start, fault.size-fraction.start,
    fault.fractional-seconds.start, fault.never-down.start, fault.no-down.start,
    fault.negative.start, fault.power-cycle.start, fault.byte-value.start,
    fault.byte-mode.start, fault.missing.start, fault.unknown.start,
  ]
}
