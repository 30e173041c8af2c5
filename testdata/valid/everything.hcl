# Every block and most arguments, to keep the whole language valid.
variable "nodes" {
  type        = list(object({ name = string, host = string, port = number }))
  description = "Nodes as objects."
  default = [
    { name = "n1", host = "10.9.0.11", port = 22 },
    { name = "n2", host = "10.9.0.12", port = 22 },
    { name = "n3", host = "10.9.0.13", port = 2222 },
  ]
}

variable "password" {
  type      = string
  default   = "secret"
  sensitive = true
}

locals {
  peers   = join(",", [for n in nodes : "${n.name}=http://${n.host}:2380"])
  base    = "/opt/kv"
  timeout = seconds("1s") * 2
}

test "everything" {
  nodes       = var.nodes
  concurrency = 6
  seed        = 1234
  time_limit  = "5m"
  op_timeout  = "2s"
  description = "All the blocks."
}

ssh {
  user                     = "admin"
  port                     = 22
  password                 = var.password
  insecure_ignore_host_key = true
  agent                    = false
  sudo                     = true
  sudo_password            = var.password
  connect_timeout          = "5s"
}

os "debian" {
  packages = ["iptables", "iproute2"]
  hosts    = true
  setup    = ["sysctl -w net.ipv4.tcp_syn_retries=3"]
  teardown = "true"
}

db "kv" {
  install {
    archive          = "https://example.invalid/kv-1.0.tar.gz"
    dir              = local.base
    strip_components = 1
    commands         = ["chmod +x ${local.base}/kv"]
  }

  file "/etc/kv.conf" {
    content = "name = ${node.name}\npeers = ${local.peers}\n"
    mode    = "0640"
    owner   = "root:root"
  }

  daemon "kv" {
    command = "${local.base}/kv"
    args    = ["--config", "/etc/kv.conf", "--index", tostring(node.index)]
    env     = { KV_LOG = "debug" }
    dir     = local.base
    user    = "root"
    pidfile = "/var/run/kv.pid"
    logfile = "/var/log/kv.log"
    ready {
      tcp_port = 7000
      command  = "${local.base}/kv ping"
      timeout  = "30s"
      interval = "500ms"
    }
  }

  setup         = "echo ready"
  primary_setup = ["${local.base}/kv init"]
  teardown      = ["rm -rf /var/lib/kv"]
  log_files     = ["/var/log/kv.log"]
  setup_retries = 3
}

client "http" {
  base_url = "http://${node.host}:7000"
  timeout  = local.timeout
  headers  = { "X-Test" = test.name }
}

operation "read" {
  request {
    path  = "/kv/r"
    query = { consistent = "true" }
  }
  result = {
    type  = response.status == 200 ? "ok" : (response.status == 404 ? "ok" : "fail")
    value = response.status == 404 ? null : tonumber(response.body)
  }
}

operation "final-read" {
  f = "read-final"
  request {
    path = "/kv/r"
  }
  result = { type = "ok", value = try(tonumber(response.json.value), null) }
}

operation "write" {
  value = random_int(0, 9)
  request {
    method  = "PUT"
    path    = "/kv/r"
    headers = { "Content-Type" = "text/plain" }
    body    = tostring(op.value)
  }
  timeout = "3s"
}

operation "cas" {
  value = [random_int(0, 9), random_int(0, 9)]
  request {
    method = "POST"
    path   = "/kv/r/cas"
    body   = jsonencode({ from = op.value[0], to = op.value[1], by = op.process, node = op.node })
  }
  result = {
    type  = response.status == 200 ? "ok" : (response.status == 409 ? "fail" : "info")
    error = response.status == 200 ? null : response.body
  }
}

fault "partition" {
  type     = "partition"
  topology = [["n1"], ["n2", "n3"]]
}

fault "ring" {
  type     = "partition"
  topology = "majorities-ring"
}

fault "crash" {
  type    = "kill"
  daemon  = db.kv.daemon.kv
  targets = "minority"
  signal  = "KILL"
}

fault "pause" {
  type    = "pause"
  daemon  = db.kv.daemon.kv
  targets = ["n1", "n2"]
}

fault "skew" {
  type    = "clock"
  delta   = "-10s"
  targets = "one"
}

fault "strobe" {
  type     = "clock"
  mode     = "strobe"
  delta    = "200ms"
  period   = "10ms"
  duration = "2s"
}

fault "slow" {
  type    = "packet"
  delay   = "100ms"
  jitter  = "20ms"
  loss    = 0.05
  rate    = "1mbit"
  targets = "all"
}

fault "flip" {
  type        = "file"
  action      = "bitflip"
  path        = "/var/lib/kv/data"
  probability = 0.001
}

fault "lose" {
  type    = "filesystem"
  dir     = "/var/lib/kv"
  mode    = "lose-unfsynced"
  daemon  = db.kv.daemon.kv
  targets = "majority"
}

fault "custom" {
  type    = "custom"
  start   = ["touch /tmp/slow"]
  stop    = ["rm -f /tmp/slow"]
  targets = "primaries"
}

phase "warmup" {
  clients = each_thread(once(operation.write))
}

phase "main" {
  time_limit = "2m"
  generator = any(
    clients(time_limit("60s", stagger("10ms", reserve(2, operation.write, mix([operation.read, operation.cas]))))),
    nemesis(cycle([
      sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop,
      delay("1s", [fault.ring.start, fault.ring.stop]),
      flip_flop(fault.crash.start, fault.crash.stop),
      fault.pause.start, fault.pause.stop,
      fault.skew.start, fault.skew.stop,
      fault.strobe.start, fault.slow.start, fault.slow.stop,
      fault.flip.start, fault.lose.start, fault.lose.stop,
      fault.custom.start, fault.custom.stop,
      log("one cycle done"),
    ])),
  )
}

phase "heal" {
  final   = true
  nemesis = [fault.partition.stop, fault.ring.stop, fault.crash.stop, fault.pause.stop, fault.skew.stop, fault.slow.stop]
}

phase "final" {
  final      = true
  time_limit = "30s"
  clients    = synchronize(each_thread(until_ok(operation.final-read)))
}

checker "linearizable" {
  model      = "cas-register"
  time_limit = "5m"
}

checker "stats" {}
checker "perf" {}
checker "timeline" {}
