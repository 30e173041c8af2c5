package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jplan/jplan/cluster"
	"github.com/jplan/jplan/progress"
)

func init() {
	register("cluster", "manage a local cluster of test nodes: containers or VMs (up, down, status, nodes-file)", runCluster)
}

func clusterUsage(env *cliEnv) {
	fmt.Fprintln(env.stderr, `Usage: jplan cluster <up|down|status|nodes-file> [flags]

  up          build the node image if needed, start the nodes, write the nodes file
  down        remove the nodes and their network
  status      list the nodes and whether sshd answers
  nodes-file  write a fresh nodes file and known_hosts for the running nodes
              into --dir, whichever directory started them

Nodes are Docker containers by default; --driver qemu makes them virtual
machines with their own kernels and clocks, for netem, device-mapper and
clock-setting faults that containers cannot have. A cluster belongs to the
state directory that started it: up from another directory refuses while
its nodes run (unless --recreate).

Run 'jplan cluster <subcommand> -h' for flags. docs/cluster.md has details.`)
}

func runCluster(env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		clusterUsage(env)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("jplan cluster "+sub, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var opts cluster.Options
	fs.StringVar(&opts.Dir, "dir", cluster.DefaultDir, "state directory (key, known_hosts, nodes file)")
	fs.StringVar(&opts.Name, "name", cluster.DefaultName, "cluster name; prefixes containers and the network")
	fs.StringVar(&opts.Driver, "driver", "", `what runs the nodes: "docker" (containers) or "qemu" (VMs); down and status default to what up used`)
	var jsonOut bool
	switch sub {
	case "up":
		fs.IntVar(&opts.Nodes, "n", cluster.DefaultNodes, "number of nodes")
		fs.StringVar(&opts.Subnet, "subnet", "", "IPv4 subnet of the private network (default "+cluster.DefaultSubnet+", or "+cluster.DefaultVMSubnet+" for qemu)")
		fs.IntVar(&opts.Memory, "memory", cluster.DefaultVMMemory, "qemu: memory per VM in MiB")
		fs.StringVar(&opts.Accel, "accel", "", `qemu: "kvm" or "tcg" (default: kvm when this machine can run it)`)
		fs.StringVar(&opts.Image, "image", "", "node image (default: built locally from the recipe)")
		fs.BoolVar(&opts.Recreate, "recreate", false, "replace running nodes instead of reusing them, even nodes another state directory started")
	case "down", "nodes-file":
	case "status":
		fs.BoolVar(&jsonOut, "json", false, "print JSON")
	default:
		fmt.Fprintf(env.stderr, "jplan cluster: unknown subcommand %q\n\n", sub)
		clusterUsage(env)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "jplan cluster %s: unexpected arguments %q\n", sub, fs.Args())
		return exitUsage
	}
	opts.Log = env.stderr

	// Ctrl-C aborts cleanly (docker commands in flight are killed).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	switch sub {
	case "up":
		// Building the image and booting nodes take a while: on a
		// terminal, a live line says how long so far (log lines print
		// above it); pipes get the log lines alone.
		var stopProgress func()
		if isTerminal(env.stderr) && env.getenv("TERM") != "dumb" {
			pr := progress.New(env.stderr, true)
			opts.Log = pr.Log()
			stopProgress = pr.Every(time.Second, func() string {
				if l := pr.LastLog(); l != "" {
					return "cluster up; last: " + l
				}
				return "cluster up"
			})
		}
		info, err := cluster.Up(ctx, opts)
		if stopProgress != nil {
			stopProgress()
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan cluster up: %v\n", err)
			return exitInvalid
		}
		for _, n := range info.Nodes {
			where := n.Container
			if info.Driver == cluster.DriverQEMU {
				where = fmt.Sprintf("vm pid %d (%s)", n.PID, info.Accel)
			}
			fmt.Fprintf(env.stdout, "%s\t%s\t%s\n", n.Name, n.IP, where)
		}
		fmt.Fprintf(env.stdout, "nodes file: %s\n", info.NodesFile)
		fmt.Fprintf(env.stdout, "log in:     ssh -F %s n1\n", info.SSHConfigFile)
		if len(info.Refused) > 0 {
			fmt.Fprintf(env.stdout, "refused by the engine: %s\n", strings.Join(info.Refused, ", "))
		}
	case "nodes-file":
		info, err := cluster.NodesFile(ctx, opts)
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan cluster nodes-file: %v\n", err)
			return exitInvalid
		}
		fmt.Fprintf(env.stdout, "nodes file: %s (%d nodes)\n", info.NodesFile, len(info.Nodes))
		fmt.Fprintf(env.stdout, "known_hosts: %s\n", info.KnownHostsFile)
		fmt.Fprintf(env.stdout, "log in:     ssh -F %s n1\n", info.SSHConfigFile)
	case "down":
		if err := cluster.Down(ctx, opts); err != nil {
			fmt.Fprintf(env.stderr, "jplan cluster down: %v\n", err)
			return exitInvalid
		}
		fmt.Fprintf(env.stdout, "cluster %s removed\n", opts.Name)
	case "status":
		sts, err := cluster.Status(ctx, opts)
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan cluster status: %v\n", err)
			return exitInvalid
		}
		if jsonOut {
			return clusterPrintJSONStatus(env, sts)
		}
		if len(sts) == 0 {
			fmt.Fprintf(env.stdout, "cluster %s: no nodes\n", opts.Name)
			return exitInvalid
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tCONTAINER/VM\tIP\tSTATE\tSSH")
		healthy := true
		for _, st := range sts {
			ssh := "ok"
			if !st.SSH {
				healthy = false
				ssh = "down"
				if st.SSHError != "" {
					ssh += ": " + st.SSHError
				}
			}
			where := st.Container
			if st.PID != 0 {
				where = fmt.Sprintf("vm pid %d", st.PID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Name, where, st.IP, st.State, ssh)
		}
		tw.Flush()
		if !healthy {
			return exitInvalid
		}
	}
	return exitOK
}

func clusterPrintJSONStatus(env *cliEnv, sts []cluster.NodeStatus) int {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sts); err != nil {
		fmt.Fprintf(env.stderr, "jplan cluster status: %v\n", err)
		return exitInvalid
	}
	for _, st := range sts {
		if !st.SSH {
			return exitInvalid
		}
	}
	return exitOK
}
