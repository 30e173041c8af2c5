# A register on Redis with asynchronous replication: n1 is the primary,
# the other nodes replicate from it, and every client reads from the node
# it is bound to while writes go to the primary. Replicas lag, so reads
# can be stale — certainly while a replica is cut off from the primary:
# expect the linearizability checker to find a violation.
# That is the point — it shows what Redis replication does and does not
# promise.
#
# The exec client runs redis-cli on each worker's node, so nothing but
# jplan is needed on the control machine.

variable "duration" {
  type        = string
  default     = "30s"
  description = "How long the main phase runs (clients and faults); healing and final reads come after."
}

variable "nodes" {
  type    = list(string)
  default = ["n1", "n2", "n3"]
}

locals {
  # The first node is the primary (nodes may come from --nodes-file).
  primary = nodes[0].name
}

test "redis-replicas" {
  nodes       = var.nodes
  concurrency = "2n"
  seed        = 7
}

os "debian" {
  packages = ["redis-server", "iptables", "procps"]
}

db "redis" {
  install {
    packages = ["redis-server"]
    commands = ["mkdir -p /var/lib/jplan/redis /etc/jplan"]
  }

  file "/etc/jplan/redis.conf" {
    content = templatefile("${path.plan}/redis.conf.tpl", {
      primary    = local.primary
      is_primary = node.name == local.primary
    })
  }

  daemon "redis" {
    command = "/usr/bin/redis-server"
    args    = ["/etc/jplan/redis.conf"]
    pidfile = "/var/run/jplan-redis.pid"
    logfile = "/var/log/jplan-redis.log"
    ready {
      command = "redis-cli PING"
    }
  }

  teardown  = ["rm -rf /var/lib/jplan/redis"]
  log_files = ["/var/log/jplan-redis.log"]
}

client "exec" {
  on      = "node"
  timeout = "1s"
}

operation "read" {
  command = ["redis-cli", "--raw", "GET", "register"]
  result = {
    type  = response.exit_code == 0 ? "ok" : "fail"
    value = trimspace(response.stdout) == "" ? null : tonumber(trimspace(response.stdout))
  }
}

operation "write" {
  value   = random_int(0, 9)
  command = ["redis-cli", "-h", local.primary, "SET", "register", tostring(op.value)]
  result  = { type = response.exit_code == 0 && trimspace(response.stdout) == "OK" ? "ok" : "info" }
}

# Cut the last node (a replica) off: it keeps serving reads from its stale
# copy while the primary accepts writes from everyone else.
fault "partition" {
  type = "partition"
  topology = [
    [for n in slice(nodes, 0, length(nodes) - 1) : n.name],
    [nodes[length(nodes) - 1].name],
  ]
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("20ms", mix([operation.read, operation.write]))
  nemesis    = cycle([sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop])
}

phase "heal" {
  final   = true
  nemesis = fault.partition.stop
}

checker "linearizable" {
  model = "register"
}

checker "stats" {}
checker "timeline" {}
