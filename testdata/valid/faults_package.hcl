# A fault package: partitions, crashes, pauses and membership changes of an
# etcd cluster, composed without writing the cycle by hand.
variable "interval" {
  type    = string
  default = "5s"
}

test "package" {
  nodes       = ["n1", "n2", "n3", "n4", "n5"]
  concurrency = "1n"
  seed        = 7
}

db "etcd" {
  daemon "etcd" {
    command = "/usr/bin/etcd"
    args    = ["--name", node.name]
    pidfile = "/var/run/etcd.pid"
  }
}

client "http" {
  base_url = "http://${node.host}:2379"
}

operation "read" {
  request {
    method = "POST"
    path   = "/v3/kv/range"
    body   = jsonencode({ key = base64encode("r") })
  }
}

fault "partition" {
  type     = "partition"
  topology = "majorities-ring"
}

fault "crash" {
  type    = "kill"
  daemon  = db.etcd.daemon.etcd
  targets = "minority"
}

fault "freeze" {
  type   = "pause"
  daemon = db.etcd.daemon.etcd
}

fault "members" {
  type   = "membership"
  view   = "curl -s -XPOST http://${node.host}:2379/v3/cluster/member/list | grep -o 'http://[0-9.]*:2380'"
  add    = "curl -s -XPOST http://${node.host}:2379/v3/cluster/member/add -d '${jsonencode({ peerURLs = ["http://${member.host}:2380"] })}'"
  remove = "curl -s -XPOST http://${node.host}:2379/v3/cluster/member/remove -d '{\"ID\": \"${member.name}\"}'"
  reset = [
    "rm -rf /var/lib/etcd",
    "echo ${join(",", [for m in members : "${m.name}=http://${m.host}:2380"])}",
  ]
  min_members     = 3
  pending_timeout = "20s"
}

faults "chaos" {
  faults   = [fault.partition, fault.crash, fault.freeze, fault.members]
  interval = var.interval
}

faults "gentle" {
  faults = [fault.freeze]
}

phase "main" {
  time_limit = "60s"
  clients    = stagger("50ms", operation.read)
  nemesis    = faults.chaos.generator
}

phase "heal" {
  nemesis = faults.chaos.final
}

phase "routed" {
  time_limit = "10s"
  generator  = any(clients(operation.read), nemesis([faults.gentle.generator]))
}

phase "final" {
  final   = true
  nemesis = [faults.gentle.final, log("healed ${length(faults.chaos.faults)} faults")]
}
