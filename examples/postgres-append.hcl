# List-append transactions on PostgreSQL, checked the way Elle checks them.
# Each key is one row holding a bigint[]; a transaction appends to and
# reads a few keys (Elle's generator), in one SQL transaction per op. Every
# worker connects to the one server, on the first node.
#
#   jplan run examples/postgres-append.hcl                                 # valid
#   jplan run examples/postgres-append.hcl -var 'isolation=read committed' # not
#
# At serializable, PostgreSQL aborts transactions that would form a cycle
# (SQLSTATE 40001: those ops fail) and the history is serializable. At
# read committed nothing is aborted, and the checker finds what
# serializability forbids: G-single-item and G2-item (read skew and write
# skew between reads and appends) and internal (one transaction reading a
# key twice and seeing two lists, as read committed allows).

variable "duration" {
  type    = string
  default = "30s"
}

variable "isolation" {
  type    = string
  default = "serializable"
}

locals {
  data = "/var/lib/jplan/pg"
  bin  = "/usr/lib/postgresql/15/bin"
}

test "postgres-append" {
  concurrency = "2n"
  seed        = 7
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
    "psql -h 127.0.0.1 -U postgres -c 'CREATE TABLE lists (k bigint PRIMARY KEY, vals bigint[] NOT NULL)'",
  ]
  teardown  = ["rm -rf ${local.data}"]
  log_files = ["/var/log/jplan-postgres.log"]
}

client "sql" {
  host      = nodes[0].host
  isolation = var.isolation
  timeout   = "2s"
}

# One statement per micro-op kind: $1 is the key, $2 the value. An append
# creates the key's row or extends its array; a read returns the array
# (no row: the key was never appended to, and the read is null).
operation "txn" {
  value = list_append_txn({ key_count = 8, max_length = 4 })
  micro_ops = {
    r      = "SELECT vals FROM lists WHERE k = $1"
    append = "INSERT INTO lists AS l (k, vals) VALUES ($1, ARRAY[$2::bigint]) ON CONFLICT (k) DO UPDATE SET vals = l.vals || $2::bigint"
  }
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("10ms", operation.txn)
}

checker "list-append" {
  consistency_models = ["serializable"]
}

checker "stats" {}
checker "perf" {}
