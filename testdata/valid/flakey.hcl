# Every argument of the flakey fault (a dm-flakey device under a data
# directory), in each of its modes.
test "flakey" {
  nodes = ["n1", "n2", "n3"]
}

db "kv" {
  daemon "kv" {
    command = "/opt/kv/bin/kv"
    args    = ["--data", "/var/lib/kv"]
  }
}

client "exec" {}

operation "write" {
  value   = random_int(1, 100)
  command = "echo ${op.value} > /tmp/jplan-register"
}

fault "power" {
  type    = "flakey"
  dir     = "/var/lib/kv"
  mode    = "lose-unfsynced"
  daemon  = db.kv.daemon.kv
  targets = "majority"
}

fault "lying-disk" {
  type   = "flakey"
  dir    = "/var/lib/kv"
  mode   = "drop-writes"
  daemon = db.kv.daemon.kv
}

fault "bad-disk" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "error-writes"
  up_interval   = "4s"
  down_interval = 2
  targets       = ["n1"]
}

fault "unreadable" {
  type    = "flakey"
  dir     = "/var/lib/kv"
  mode    = "error-reads"
  targets = "all"
}

fault "dead-disk" {
  type          = "flakey"
  dir           = "/var/lib/kv"
  mode          = "error-all"
  up_interval   = "0s"
  down_interval = "1m"
}

fault "rot" {
  type          = "flakey"
  dir           = "/srv/other"
  mode          = "corrupt-reads"
  size          = "1GiB"
  corrupt_byte  = 32
  corrupt_value = 0
}

fault "scribble" {
  type          = "flakey"
  dir           = "/srv/third"
  mode          = "corrupt-writes"
  size          = 64 * 1024 * 1024
}

phase "main" {
  clients = limit(10, operation.write)
  nemesis = [
    fault.power.start, fault.power.stop,
    fault.lying-disk.start, fault.lying-disk.stop,
    fault.bad-disk.start, fault.bad-disk.stop,
    fault.unreadable.start, fault.unreadable.stop,
    fault.dead-disk.start, fault.dead-disk.stop,
    fault.rot.start, fault.rot.stop,
    fault.scribble.start, fault.scribble.stop,
  ]
}
