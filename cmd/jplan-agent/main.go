// Command jplan-agent is the small static program jplan uploads to nodes
// for faults that need more than a shell: each fault kind is a subcommand
// registered from its own file. It prints its result as one line of JSON.
package main

import (
	"fmt"
	"os"
	"sort"
)

var subcommands = map[string]func(args []string) error{}

func register(name string, fn func(args []string) error) { subcommands[name] = fn }

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	fn, ok := subcommands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "jplan-agent: unknown subcommand %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := fn(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "jplan-agent %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: jplan-agent <subcommand> [args]; subcommands: %v\n", names)
}

func init() {
	register("version", func([]string) error { fmt.Println(`{"agent":"jplan-agent"}`); return nil })
}
