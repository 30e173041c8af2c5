test "db" {
  nodes = ["n1"]
}

db "etcd" {
  install {
    packages = ["etcd-server"]
  }
  install { # ERROR: Duplicate install block
  }

  file "etc/etcd.conf" { # ERROR: Relative file path
    content = "x"
  }

  file "/etc/both" { # ERROR: File needs content or source
    content = "x"
    source  = "y"
  }

  file "/etc/mode" {
    content = "x"
    mode    = "rwx" # ERROR: not an octal file mode
  }

  daemon "etcd" { # ERROR: Missing required argument
    args = ["--name", node.name]
  }

  daemon "two" {
    command = "/bin/true"
    ready { # ERROR: Empty ready block
    }
  }

  daemon "two" { # ERROR: Duplicate daemon "two"
    command = "/bin/true"
  }

  daemon "typed" {
    command = "/bin/x"
    args    = "--flag" # ERROR: Invalid value for args
    pidfile = node.pid # ERROR: Unsupported attribute
  }

  setup     = ["echo ${node.nmae}"] # ERROR: Unsupported attribute
  log_files = 42 # ERROR: Invalid value for log_files
  setup_retries = -1 # ERROR: out of range
}

phase "main" {
  clients = sleep("1s")
}

db "single" {
  daemon "server" {
    command = "/bin/server"
    nodes   = ["n7"] # ERROR: is not one of the test's nodes
  }
}
