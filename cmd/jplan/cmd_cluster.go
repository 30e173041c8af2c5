package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jplan/jplan/cluster"
	"github.com/jplan/jplan/progress"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	commands = append(commands, command{
		name:    "cluster",
		summary: "manage a local cluster of test nodes: containers or VMs (up, down, status, nodes-file)",
		sub:     clusterCommands,
	})
}

const clusterLong = `Nodes are Docker containers by default; --driver qemu makes them virtual
machines with their own kernels and clocks, for netem, device-mapper and
clock-setting faults that containers cannot have. A cluster belongs to the
state directory that started it: up from another directory refuses while
its nodes run (unless --recreate). docs/cluster.md has details.`

func clusterUsage(env *cliEnv) {
	fmt.Fprintln(env.stderr, `Usage: jplan cluster <up|down|status|nodes-file> [flags]

  up          build the node image if needed, start the nodes, write the nodes file
  down        remove the nodes and their network
  status      list the nodes and whether sshd answers
  nodes-file  write a fresh nodes file and known_hosts for the running nodes
              into --dir, whichever directory started them

`+clusterLong+`

Run 'jplan cluster <subcommand> -h' for flags.`)
}

// clusterCommands adds up, down, status and nodes-file under parent.
func clusterCommands(env *cliEnv, parent *cobra.Command, code *int) {
	parent.Use = "cluster <up|down|status|nodes-file> [flags]"
	parent.Long = clusterLong
	parent.Args = cobra.ArbitraryArgs
	parent.SuggestionsMinimumDistance = 2
	parent.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			clusterUsage(env)
			*code = exitUsage
			return nil
		}
		msg := fmt.Sprintf("jplan cluster: unknown subcommand %q", args[0])
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		fmt.Fprintln(env.stderr, msg+"\n")
		clusterUsage(env)
		*code = exitUsage
		return nil
	}
	subs := []struct{ name, short string }{
		{"up", "build the node image if needed, start the nodes, write the nodes file"},
		{"down", "remove the nodes and their network"},
		{"status", "list the nodes and whether sshd answers"},
		{"nodes-file", "write a fresh nodes file and known_hosts for the running nodes into --dir, whichever directory started them"},
	}
	for _, sc := range subs {
		c := &cobra.Command{Use: sc.name + " [flags]", Short: sc.short, Long: sc.short + ".\n\n" + clusterLong, DisableFlagsInUseLine: true}
		c.SetFlagErrorFunc(flagError)
		run := clusterSetup(env, sc.name, c.Flags())
		completeFlagValues(c, "cluster "+sc.name)
		c.RunE = func(_ *cobra.Command, args []string) error {
			*code = run(args)
			return nil
		}
		parent.AddCommand(c)
	}
}

func clusterSetup(env *cliEnv, sub string, fs *pflag.FlagSet) func([]string) int {
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
	case "status":
		fs.BoolVar(&jsonOut, "json", false, "print JSON")
	}
	return func(args []string) int {
		if len(args) > 0 {
			fmt.Fprintf(env.stderr, "jplan cluster %s: unexpected arguments %q\n", sub, args)
			return exitUsage
		}
		return clusterRun(env, sub, opts, jsonOut)
	}
}

func clusterRun(env *cliEnv, sub string, opts cluster.Options, jsonOut bool) int {
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
