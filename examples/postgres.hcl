# A register in one PostgreSQL row, read, written and compare-and-set with
# psql from every node against the primary (the first node), while the
# primary's server is killed and the network partitioned. PostgreSQL with
# fsync on recovers every committed write: expect linearizable.
#
# The server runs on the primary only (the daemon's nodes); every node has
# the package, so clients run psql on their own node.

variable "duration" {
  type    = string
  default = "30s"
}

locals {
  data    = "/var/lib/jplan/pg"
  bin     = "/usr/lib/postgresql/15/bin"
  primary = nodes[0].name
  psql    = ["psql", "-h", nodes[0].name, "-U", "postgres", "-d", "postgres", "-tA", "-v", "ON_ERROR_STOP=1", "-c"]
}

test "postgres-register" {
  concurrency = "2n"
  seed        = 11
}

os "debian" {
  packages = ["postgresql", "iptables"]
}

db "postgres" {
  install {
    packages = ["postgresql"]
    commands = [
      "install -d -m 0755 /var/lib/jplan",
      "install -d -o postgres -g postgres -m 0700 ${local.data}",
      "test -f ${local.data}/PG_VERSION || (cd / && runuser -u postgres -- ${local.bin}/initdb -D ${local.data} -A trust >/dev/null)",
    ]
  }

  file "/etc/jplan/pg_hba.conf" {
    content = "local all all trust\nhost all all 0.0.0.0/0 trust\n"
    mode    = "0644"
  }

  daemon "postgres" {
    command = "${local.bin}/postgres"
    args = [
      "-D", local.data,
      "-c", "listen_addresses=*",
      "-c", "hba_file=/etc/jplan/pg_hba.conf",
      "-c", "unix_socket_directories=/tmp",
    ]
    user    = "postgres"
    logfile = "/var/log/jplan-postgres.log"
    nodes   = [nodes[0].name]
    ready {
      command = "${local.bin}/pg_isready -q -h 127.0.0.1"
    }
  }

  primary_setup = [
    "psql -h 127.0.0.1 -U postgres -c 'CREATE TABLE reg (id int PRIMARY KEY, val int)' -c 'INSERT INTO reg VALUES (1, NULL)'",
  ]
  teardown  = ["rm -rf ${local.data}"]
  log_files = ["/var/log/jplan-postgres.log"]
}

client "exec" {
  on      = "node"
  timeout = "2s"
}

operation "read" {
  command = concat(local.psql, ["SELECT val FROM reg WHERE id = 1"])
  result = {
    type  = response.exit_code == 0 ? "ok" : (strcontains(response.stderr, "Connection refused") ? "fail" : "info")
    value = response.exit_code == 0 && trimspace(response.stdout) != "" ? tonumber(trimspace(response.stdout)) : null
    error = response.exit_code == 0 ? null : trimspace(response.stderr)
  }
}

operation "write" {
  value   = random_int(0, 4)
  command = concat(local.psql, ["UPDATE reg SET val = ${op.value} WHERE id = 1"])
  result = {
    type  = response.exit_code == 0 ? "ok" : (strcontains(response.stderr, "Connection refused") ? "fail" : "info")
    error = response.exit_code == 0 ? null : trimspace(response.stderr)
  }
}

operation "cas" {
  value   = [random_int(0, 4), random_int(0, 4)]
  command = concat(local.psql, ["UPDATE reg SET val = ${op.value[1]} WHERE id = 1 AND val = ${op.value[0]}"])
  result = {
    # psql prints "UPDATE n": one row changed is a successful cas, none a
    # failed one.
    type = (response.exit_code == 0 ? (strcontains(response.stdout, "UPDATE 1") ? "ok" : "fail")
    : (strcontains(response.stderr, "Connection refused") ? "fail" : "info"))
    error = response.exit_code == 0 ? null : trimspace(response.stderr)
  }
}

fault "crash" {
  type    = "kill"
  daemon  = db.postgres.daemon.postgres
  targets = "primaries"
}

fault "partition" {
  type     = "partition"
  topology = "primaries"
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("50ms", mix([operation.read, operation.write, operation.cas]))
  nemesis = cycle([
    sleep("5s"), fault.crash.start, sleep("3s"), fault.crash.stop,
    sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop,
  ])
}

phase "heal" {
  final   = true
  nemesis = [fault.crash.stop, fault.partition.stop]
}

phase "final" {
  final   = true
  clients = [sleep("5s"), each_thread(once(operation.read))]
}

checker "linearizable" {
  model = "cas-register"
}

checker "stats" {}
checker "perf" {}
checker "timeline" {}
