# Jepsen's bank on PostgreSQL at repeatable read: five accounts holding 100
# in all; transfers move money between two accounts in one transaction,
# reads return every balance, while the server (on the first node) is
# killed and restarted. Every read must see the total of 100 and no
# negative balance: expect valid.
#
# A transfer that would overdraw its account violates the table's CHECK
# constraint: PostgreSQL rejects it, and the op fails. At repeatable read
# two transfers updating one account conflict, and the later one fails
# with a serialization failure (SQLSTATE 40001).

variable "duration" {
  type    = string
  default = "30s"
}

variable "isolation" {
  type    = string
  default = "repeatable read"
}

locals {
  data     = "/var/lib/jplan/pg"
  bin      = "/usr/lib/postgresql/15/bin"
  accounts = [0, 1, 2, 3, 4]
  # Every ordered pair of two different accounts, so that a transfer's
  # from and to are drawn together.
  pairs = flatten([for a in local.accounts : [for b in local.accounts : { from = a, to = b } if a != b]])
}

test "postgres-bank" {
  concurrency = "2n"
  seed        = 5
}

os "debian" {
  packages = ["postgresql"]
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
    "psql -h 127.0.0.1 -U postgres -c 'CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))' -c 'INSERT INTO accounts SELECT i, 20 FROM generate_series(0, 4) AS i'",
  ]
  teardown  = ["rm -rf ${local.data}"]
  log_files = ["/var/log/jplan-postgres.log"]
}

client "sql" {
  host      = nodes[0].host
  isolation = var.isolation
  timeout   = "2s"
}

operation "transfer" {
  value = merge(random_choice(local.pairs), { amount = random_int(1, 5) })
  statements = [
    ["UPDATE accounts SET balance = balance - $1 WHERE id = $2", op.value.amount, op.value.from],
    ["UPDATE accounts SET balance = balance + $1 WHERE id = $2", op.value.amount, op.value.to],
  ]
}

# A read's value maps each account id, as a string, to its balance.
operation "read" {
  statements = ["SELECT id, balance FROM accounts"]
  result = {
    type  = "ok"
    value = { for r in response.rows : tostring(r.id) => r.balance }
  }
}

fault "crash" {
  type    = "kill"
  daemon  = db.postgres.daemon.postgres
  targets = "primaries"
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("20ms", mix([operation.transfer, operation.read]))
  nemesis    = cycle([sleep("5s"), fault.crash.start, sleep("3s"), fault.crash.stop])
}

phase "heal" {
  final   = true
  nemesis = [fault.crash.stop]
}

phase "final" {
  final   = true
  clients = [sleep("3s"), each_thread(once(operation.read))]
}

checker "bank" {
  total    = 100
  accounts = local.accounts
}

checker "stats" {}
checker "perf" {}
checker "timeline" {}
