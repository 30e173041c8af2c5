# A single etcd register under partitions and crashes: Jepsen's classic
# etcd test, declaratively. Clients read, write and compare-and-set one key
# through etcd's v3 JSON gateway; the nemesis partitions the network and
# kills etcd on a minority of nodes. The history must be linearizable.
#
# Run it on the local cluster: jplan cluster up && jplan run examples/etcd.hcl --nodes-file .cluster/nodes.json

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

test "etcd-register" {
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

phase "main" {
  time_limit = var.duration
  clients    = stagger("50ms", mix([operation.read, operation.write, operation.cas]))
  nemesis = cycle([
    sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop,
    sleep("5s"), fault.crash.start, sleep("5s"), fault.crash.stop,
  ])
}

phase "heal" {
  final   = true
  nemesis = [fault.partition.stop, fault.crash.stop]
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
