# A single Redis that acknowledges writes before they are durable: its
# append-only file is written at every command but fsynced never
# (appendfsync "no"; "everysec" loses up to a second instead). Its data
# directory sits on jplan's fault-injecting filesystem, and the nemesis
# simulates power failures on the Redis node: Redis is killed, every write
# the filesystem had not been asked to fsync is lost, and Redis restarts
# from what was durable.
#
# Acknowledged adds to a set vanish: the final read misses elements that
# Redis had confirmed. Expect the set checker to report them lost.
#
# Clients run redis-cli on their own node (exec client, on = "node") and
# all talk to the first node; the other nodes run idle Redis servers.

variable "duration" {
  type        = string
  default     = "30s"
  description = "How long the main phase runs."
}

variable "nodes" {
  type    = list(string)
  default = ["n1", "n2", "n3"]
}

variable "appendfsync" {
  type        = string
  default     = "no"
  description = "Redis's appendfsync: no, everysec or always (always fsyncs every write, and nothing is lost)."
}

locals {
  primary = nodes[0].name
  dir     = "/var/lib/jplan/redis-lost-writes"
}

test "redis-lost-writes" {
  nodes       = var.nodes
  concurrency = "2n"
  seed        = 11
}

os "debian" {
  packages = ["redis-server", "procps"]
}

db "redis" {
  install {
    packages = ["redis-server"]
    commands = ["mkdir -p ${local.dir} /etc/jplan"]
  }

  file "/etc/jplan/redis-lost-writes.conf" {
    content = templatefile("${path.plan}/redis-lost-writes.conf.tpl", {
      dir         = local.dir
      appendfsync = var.appendfsync
    })
  }

  daemon "redis" {
    command = "/usr/bin/redis-server"
    args    = ["/etc/jplan/redis-lost-writes.conf"]
    pidfile = "/var/run/jplan-redis-lost-writes.pid"
    logfile = "/var/log/jplan-redis-lost-writes.log"
    ready {
      command = "redis-cli PING | grep -qx PONG"
    }
  }

  teardown  = ["rm -rf ${local.dir}"]
  log_files = ["/var/log/jplan-redis-lost-writes.log"]
}

client "exec" {
  on      = "node"
  timeout = "1s"
}

# Each add puts a fresh number into a Redis set; a final read lists the
# set. An add that could not connect never happened: fail, not info.
operation "add" {
  value   = random_int(0, 1000000000)
  command = ["redis-cli", "-h", local.primary, "SADD", "jplan-set", tostring(op.value)]
  result = {
    type = (response.exit_code == 0 && can(tonumber(trimspace(response.stdout))) ? "ok"
    : strcontains(response.stderr, "Connection refused") ? "fail" : "info")
  }
}

operation "read" {
  command = ["redis-cli", "-h", local.primary, "--raw", "SMEMBERS", "jplan-set"]
  result = {
    type  = response.exit_code == 0 ? "ok" : "fail"
    value = trimspace(response.stdout) == "" ? [] : [for l in split("\n", trimspace(response.stdout)) : tonumber(l)]
  }
}

# A power failure on the Redis node: kill Redis, lose every write not
# fsynced, start Redis again.
fault "power-loss" {
  type    = "filesystem"
  dir     = local.dir
  mode    = "lose-unfsynced"
  daemon  = db.redis.daemon.redis
  targets = "primaries"
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("20ms", operation.add)
  nemesis    = cycle([sleep("4s"), fault.power-loss.start])
}

# Let Redis settle after the last power failure, then read the whole set
# (until a read succeeds). The final phase runs after the main one whatever
# the time limit; its own time_limit keeps a Redis that never comes back
# from hanging the run.
phase "final" {
  final      = true
  time_limit = "60s"
  clients    = [sleep("3s"), until_ok(once(operation.read))]
}

checker "set" {}
checker "stats" {}
checker "timeline" {}
