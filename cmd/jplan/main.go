// Command jplan runs Jepsen-style tests of distributed systems from HCL
// test plans. This file holds only dispatch, on spf13/cobra so that help,
// completion, --version and did-you-mean behave as users of other Go tools
// expect; each subcommand lives in its own cmd_*.go file and registers
// itself, and the logic behind every command lives in the packages it
// calls, where tests reach it without the CLI.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/jplan/jplan/suggest"
	"github.com/jplan/jplan/verdict"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes shared by every subcommand. docs/cli.md lists them. Usage
// errors are 3 in every command: run and check give 2 to an unknown
// verdict, and scripts rely on that, so usage could not be 2 everywhere.
const (
	exitOK      = 0 // success; for check/run: the history is valid
	exitInvalid = 1 // the plan or the history is invalid
	exitUsage   = 3 // bad flags or arguments, in every command
)

// setupFunc defines a command's flags on fs and returns the function that
// runs it with the positional arguments, returning the exit code.
type setupFunc func(env *cliEnv, fs *pflag.FlagSet) func(args []string) int

// command is one subcommand.
type command struct {
	name    string
	summary string
	// usage is "NAME [flags] ARGS", then a blank line and the long help.
	usage string
	setup setupFunc
	// sub, when set, builds the command's own subcommands instead.
	sub func(env *cliEnv, parent *cobra.Command, code *int)
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

var commands []command

func register(name, summary, usage string, setup setupFunc) {
	for _, c := range commands {
		if c.name == name {
			panic("jplan: command registered twice: " + name)
		}
	}
	commands = append(commands, command{name: name, summary: summary, usage: usage, setup: setup})
}

func main() {
	os.Exit(runMain(&cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ}, os.Args[1:]))
}

// version is the module version jplan was built at ("devel" for a build
// from a checkout).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "devel"
	}
	return bi.Main.Version
}

// usageError is a mistake in how a command was called: exit 3.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func runMain(env *cliEnv, args []string) int {
	code := exitOK
	root := newRoot(env, &code)
	if len(args) == 0 {
		root.SetOut(env.stderr)
		root.Usage()
		return exitUsage
	}
	if n := len(args); n > 1 && strings.HasPrefix(args[0], "__complete") && isSingleDashLong(args[n-1]) {
		return completeSingleDash(env, root, args)
	}
	root.SetArgs(normalizeArgs(root, args))
	if err := root.Execute(); err != nil {
		// Commands report their own failures through code; what reaches
		// here is cobra's: an unknown command, flag or argument.
		msg := strings.TrimRight(err.Error(), "\n")
		if !strings.HasPrefix(msg, "jplan ") {
			msg = "jplan: " + msg
		}
		fmt.Fprintln(env.stderr, msg)
		return exitUsage
	}
	return code
}

// isSingleDashLong says whether a word being completed is a long flag
// typed with one dash (-va for -var).
func isSingleDashLong(w string) bool {
	return len(w) > 2 && w[0] == '-' && w[1] != '-'
}

// completeSingleDash completes "-va" as "--va" and hands the candidates
// back with one dash, since the shell keeps only those that begin with
// what was typed.
func completeSingleDash(env *cliEnv, root *cobra.Command, args []string) int {
	args = append([]string(nil), args...)
	args[len(args)-1] = "-" + args[len(args)-1]
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(env.stderr, "jplan: %v\n", err)
		return exitUsage
	}
	for _, line := range strings.SplitAfter(out.String(), "\n") {
		if strings.HasPrefix(line, "--") {
			line = line[1:]
		}
		io.WriteString(env.stdout, line)
	}
	return exitOK
}

// newRoot builds the command tree; a command's RunE stores its exit code
// in *code.
func newRoot(env *cliEnv, code *int) *cobra.Command {
	root := &cobra.Command{
		Use:   "jplan",
		Short: "Jepsen-style tests of distributed systems from declarative HCL plans",
		Long: "jplan runs Jepsen-style tests of distributed systems from HCL test plans:\n" +
			"it drives clients and faults against real nodes, records the history and\n" +
			"checks it. docs/cli.md describes every command.",
		Version:                    version(),
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
	}
	root.SetVersionTemplate("jplan version {{.Version}}\n")
	root.SetIn(env.stdin)
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "print jplan's version",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintf(env.stdout, "jplan version %s\n", version())
		},
	})
	for _, cmd := range commands {
		root.AddCommand(buildCommand(env, cmd, code))
	}
	// The completion command, made now rather than at Execute so its
	// summary reads like the others.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "print a shell completion script (bash, zsh, fish, powershell)"
		}
	}
	// cobra's own help command answers an unknown topic with exit 0;
	// this one makes it a usage error with suggestions, like an unknown
	// command.
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || (len(rest) > 0 && !target.HasAvailableSubCommands()) || (target == root && len(args) > 0) {
				msg := fmt.Sprintf("unknown help topic %q", strings.Join(args, " "))
				if s := root.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
				}
				return usageError{fmt.Errorf("%s", msg)}
			}
			return target.Help()
		},
	})
	return root
}

func buildCommand(env *cliEnv, cmd command, code *int) *cobra.Command {
	use, long, _ := strings.Cut(cmd.usage, "\n\n")
	c := &cobra.Command{
		Use:                   use,
		Short:                 cmd.summary,
		Long:                  long,
		DisableFlagsInUseLine: true,
	}
	c.SetFlagErrorFunc(flagError)
	if cmd.sub != nil {
		cmd.sub(env, c, code)
		return c
	}
	runFn := cmd.setup(env, c.Flags())
	completeFlagValues(c, cmd.name)
	c.RunE = func(_ *cobra.Command, args []string) error {
		*code = runFn(args)
		return nil
	}
	return c
}

// flagValues are the values shell completion offers for flags that take
// one of a few words, by command path and flag.
var flagValues = map[string]map[string][]string{
	"check": {
		"model":             verdict.Models,
		"nil-reads":         {"unknown", "empty"},
		"consistency-model": {"strict-serializable", "serializable", "snapshot-isolation", "repeatable-read", "read-committed", "read-uncommitted"},
	},
	"cluster up":         {"driver": {"docker", "qemu"}, "accel": {"kvm", "tcg"}},
	"cluster down":       {"driver": {"docker", "qemu"}},
	"cluster status":     {"driver": {"docker", "qemu"}},
	"cluster nodes-file": {"driver": {"docker", "qemu"}},
}

// completeFlagValues registers c's fixed flag values for completion.
func completeFlagValues(c *cobra.Command, path string) {
	for name, vals := range flagValues[path] {
		if c.Flags().Lookup(name) != nil {
			c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp))
		}
	}
}

// flagError turns pflag's complaint into a usage error with the flag the
// user probably meant.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		if s := suggestFlag(c, name); s != "" {
			msg += "\n\nDid you mean this?\n\t--" + s
		}
	}
	return usageError{fmt.Errorf("%s: %s\nRun '%s -h' for its flags", c.CommandPath(), msg, c.CommandPath())}
}

// suggestFlag is the defined flag nearest to name: within two edits, or
// one that name is a prefix of.
func suggestFlag(c *cobra.Command, name string) string {
	var names []string
	visit := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return suggest.Closest(name, names, 2)
}
