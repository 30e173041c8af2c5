// Command jplan runs Jepsen-style tests of distributed systems from HCL
// test plans. This file holds only dispatch; each subcommand lives in its own
// cmd_*.go file and registers itself, and the logic behind every command lives
// in the packages it calls, where tests reach it without the CLI.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// Exit codes shared by every subcommand. docs/cli.md lists them.
const (
	exitOK      = 0 // success; for check/run: the history is valid
	exitInvalid = 1 // the plan or the history is invalid
	exitUsage   = 2 // bad flags or arguments (for check/run: unknown validity uses 3)
)

// command is one subcommand. run gets the arguments after the subcommand
// name and returns the process exit code.
type command struct {
	summary string
	run     func(env *cliEnv, args []string) int
}

// cliEnv is what a subcommand may touch of the outside world, so tests can
// run commands in-process.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// environ lists the whole environment, for JPLAN_VAR_ variables.
	environ func() []string
}

var commands = map[string]command{}

func register(name, summary string, run func(env *cliEnv, args []string) int) {
	if _, dup := commands[name]; dup {
		panic("jplan: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(runMain(&cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ}, os.Args[1:]))
}

func runMain(env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "jplan: unknown command %q\n\n", args[0])
		usage(env.stderr)
		return exitUsage
	}
	return cmd.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: jplan <command> [flags] [args]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'jplan <command> -h' for a command's flags.")
}
