# etcd under a fault package: partitions, crashes, pauses and packet loss,
# started and stopped at random (from the seed) and overlapping, instead of
# a hand-written cycle. The register, clients and checks are those of
# examples/etcd.hcl.
#
# Run it on the local cluster: jplan cluster up && jplan run examples/etcd-chaos.hcl --nodes-file .cluster/nodes.json

variable "duration" {
  type        = string
  default     = "60s"
  description = "How long the main phase runs (clients and faults); healing and final reads come after."
}

variable "nodes" {
  type        = list(string)
  default     = ["n1", "n2", "n3", "n4", "n5"]
  description = "The etcd nodes (overridden by --nodes or --nodes-file)."
}

variable "key" {
  type    = string
  default = "jplan-register"
}

locals {
  key_b64  = base64encode(var.key)
  data_dir = "/var/lib/jplan/etcd"
}

test "etcd-chaos" {
  nodes       = var.nodes
  concurrency = "2n"
  seed        = 42
}

ssh {
  user = "root"
}

os "debian" {
  packages = ["iptables", "iproute2", "procps", "etcd-server"]
}

db "etcd" {
  install {
    packages = ["etcd-server"]
  }

  daemon "etcd" {
    command = "/usr/bin/etcd"
    args = [
      "--name", node.name,
      "--data-dir", local.data_dir,
      "--listen-client-urls", "http://0.0.0.0:2379",
      "--advertise-client-urls", "http://${node.host}:2379",
      "--listen-peer-urls", "http://0.0.0.0:2380",
      "--initial-advertise-peer-urls", "http://${node.host}:2380",
      "--initial-cluster", join(",", [for n in nodes : "${n.name}=http://${n.host}:2380"]),
      "--initial-cluster-state", "new",
    ]
    pidfile = "/var/run/etcd.pid"
    logfile = "/var/log/etcd.log"
    # Ready when the node serves requests, which needs an elected leader:
    # an open port alone is not enough.
    ready {
      command = "curl -sf http://127.0.0.1:2379/health | grep -q true"
      timeout = "60s"
    }
  }

  teardown  = ["rm -rf ${local.data_dir}"]
  log_files = ["/var/log/etcd.log"]
}

client "http" {
  base_url = "http://${node.host}:2379"
  timeout  = "1s"
}

operation "read" {
  request {
    method = "POST"
    path   = "/v3/kv/range"
    # A linearizable (quorum) read is etcd's default for range requests.
    body = jsonencode({ key = local.key_b64 })
  }
  result = {
    type  = response.status == 200 ? "ok" : "fail"
    value = try(tonumber(base64decode(response.json.kvs[0].value)), null)
  }
}

operation "write" {
  value = random_int(0, 4)
  request {
    method = "POST"
    path   = "/v3/kv/put"
    body   = jsonencode({ key = local.key_b64, value = base64encode(tostring(op.value)) })
  }
  result = { type = response.status == 200 ? "ok" : "info" }
}

operation "cas" {
  value = [random_int(0, 4), random_int(0, 4)]
  request {
    method = "POST"
    path   = "/v3/kv/txn"
    body = jsonencode({
      compare = [{ key = local.key_b64, target = "VALUE", result = "EQUAL", value = base64encode(tostring(op.value[0])) }]
      success = [{ requestPut = { key = local.key_b64, value = base64encode(tostring(op.value[1])) } }]
    })
  }
  result = {
    type = response.status != 200 ? "info" : (try(response.json.succeeded, false) ? "ok" : "fail")
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

fault "pause" {
  type    = "pause"
  daemon  = db.etcd.daemon.etcd
  targets = "one"
}

# Packet loss between nodes. Where the kernel has no netem (as on some
# Docker hosts), loss alone falls back to iptables random drops.
fault "loss" {
  type    = "packet"
  loss    = 0.3
  targets = "majority"
}

# Jepsen's nemesis package: the faults above started and stopped at random
# (seeded), one fault operation every 4 s on average, overlapping.
faults "chaos" {
  faults   = [fault.partition, fault.crash, fault.pause, fault.loss]
  interval = "4s"
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("50ms", mix([operation.read, operation.write, operation.cas]))
  nemesis    = faults.chaos.generator
}

phase "heal" {
  final   = true
  nemesis = faults.chaos.final
}

phase "recover" {
  final   = true
  clients = sleep("10s")
}

phase "final" {
  final   = true
  clients = each_thread(once(operation.read))
}

checker "linearizable" {
  model = "cas-register"
}

checker "stats" {}
checker "perf" {}
checker "timeline" {}
