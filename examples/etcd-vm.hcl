# etcd under the faults only virtual machines can have: clocks that jump
# and strobe (the system clock itself, with NTP stopped, not libfaketime,
# which Go programs such as etcd never see) and a slow, jittery network
# that reorders packets (netem). The register must stay linearizable.
#
# Containers share the host's kernel and clock, so this plan needs VM
# nodes (docs/cluster.md):
#
#   sudo jplan cluster up --driver qemu -n 3
#   jplan run examples/etcd-vm.hcl --nodes-file .cluster/nodes.json
#
# On the container cluster the clock faults are refused (the nodes share
# the host's clock) and netem fails where the host kernel lacks it.

variable "duration" {
  type        = string
  default     = "60s"
  description = "How long the main phase runs (clients and faults); healing and final reads come after."
}

variable "nodes" {
  type        = list(string)
  default     = ["n1", "n2", "n3"]
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

test "etcd-vm-register" {
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
      # VMs without KVM run emulated and slowly: relax heartbeats so a
      # busy host does not look like a dead leader.
      "--heartbeat-interval", "250",
      "--election-timeout", "2500",
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
  timeout  = "2s"
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

fault "skew" {
  type    = "clock"
  method  = "settime"
  mode    = "bump"
  delta   = "-90s"
  targets = "one"
}

fault "strobe" {
  type     = "clock"
  method   = "settime"
  mode     = "strobe"
  delta    = "20s"
  period   = "100ms"
  duration = "5s"
  targets  = "minority"
}

fault "slow-net" {
  type    = "packet"
  delay   = "50ms"
  jitter  = "25ms"
  reorder = 0.2
  targets = "majority"
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("100ms", mix([operation.read, operation.write, operation.cas]))
  nemesis = cycle([
    sleep("5s"), fault.skew.start, sleep("5s"), fault.slow-net.start,
    sleep("5s"), fault.strobe.start, sleep("5s"), fault.skew.stop, fault.slow-net.stop,
  ])
}

phase "heal" {
  final   = true
  nemesis = [fault.skew.stop, fault.strobe.stop, fault.slow-net.stop]
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
