# A ZooKeeper ensemble on every node, with one znode as a register. Each
# client reads and writes through zkCli.sh on its own node, so reads are
# served by whichever server that node runs — a follower may answer from a
# state that is behind the leader (ZooKeeper promises sequential
# consistency, not linearizable reads, unless a read is preceded by sync).
# The nemesis partitions the ensemble and kills a minority.
#
# zkCli.sh starts a JVM for every operation, so this test is slow: a few
# operations a second.

variable "duration" {
  type    = string
  default = "60s"
}

locals {
  data  = "/var/lib/jplan/zk"
  conf  = "/etc/jplan/zk"
  zkcli = ["/usr/share/zookeeper/bin/zkCli.sh", "-server", "127.0.0.1:2181"]
}

test "zookeeper-register" {
  concurrency = "1n"
  seed        = 3
}

os "debian" {
  packages = ["zookeeper", "iptables"]
}

db "zookeeper" {
  install {
    packages = ["zookeeper"]
    commands = [
      "install -d -m 0755 /var/lib/jplan",
      "install -d -o zookeeper -g zookeeper ${local.data} /var/log/jplan-zk",
      "echo ${node.index + 1} > ${local.data}/myid && chown zookeeper ${local.data}/myid",
    ]
  }

  file "/etc/jplan/zk/zoo.cfg" {
    content = join("\n", concat([
      "tickTime=500",
      "initLimit=20",
      "syncLimit=5",
      "dataDir=${local.data}",
      "clientPort=2181",
      "4lw.commands.whitelist=srvr,ruok",
    ], [for n in nodes : "server.${n.index + 1}=${n.host}:2888:3888"], [""]))
  }

  file "/etc/jplan/zk/log4j.properties" {
    content = "log4j.rootLogger=WARN, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\nlog4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\nlog4j.appender.CONSOLE.layout.ConversionPattern=%d %p %c: %m%n\n"
  }

  daemon "zookeeper" {
    command = "/usr/share/zookeeper/bin/zkServer.sh"
    args    = ["start-foreground", "${local.conf}/zoo.cfg"]
    env     = { ZOOCFGDIR = local.conf, ZOO_LOG_DIR = "/var/log/jplan-zk" }
    user    = "zookeeper"
    logfile = "/var/log/jplan-zookeeper.log"
    # Ready once this server is in a quorum (it reports a mode).
    ready {
      command = "echo srvr | nc -q 1 127.0.0.1 2181 | grep -q Mode"
      timeout = "90s"
    }
  }

  primary_setup = ["${join(" ", local.zkcli)} create /jplan-register '' 2>&1 | grep -q -E 'Created|exists'"]
  teardown      = ["rm -rf ${local.data}"]
  log_files     = ["/var/log/jplan-zookeeper.log"]
}

client "exec" {
  on      = "node"
  timeout = "15s"
}

operation "read" {
  command = concat(local.zkcli, ["get", "/jplan-register"])
  result = {
    # zkCli prints the data as the last line of its output.
    type  = response.exit_code == 0 && !strcontains(response.stdout, "Exception") ? "ok" : "info"
    value = try(tonumber(trimspace(element(split("\n", trimspace(response.stdout)), length(split("\n", trimspace(response.stdout))) - 1))), null)
  }
}

operation "write" {
  value   = random_int(0, 9)
  command = concat(local.zkcli, ["set", "/jplan-register", tostring(op.value)])
  result = {
    type = response.exit_code == 0 && !strcontains(response.stdout, "Exception") ? "ok" : "info"
  }
}

fault "partition" {
  type     = "partition"
  topology = "majorities-ring"
}

fault "crash" {
  type    = "kill"
  daemon  = db.zookeeper.daemon.zookeeper
  targets = "minority"
}

phase "main" {
  time_limit = var.duration
  clients    = stagger("200ms", mix([operation.read, operation.write]))
  nemesis    = cycle([sleep("10s"), fault.partition.start, sleep("10s"), fault.partition.stop, sleep("10s"), fault.crash.start, sleep("10s"), fault.crash.stop])
}

phase "heal" {
  final   = true
  nemesis = [fault.partition.stop, fault.crash.stop]
}

checker "linearizable" {
  model = "register"
}

checker "stats" {}
checker "perf" {}
checker "timeline" {}
