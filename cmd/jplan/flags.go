package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// multiFlag collects a repeatable string flag such as -var.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// parseInterleaved parses flags that may come before or after positional
// arguments (jplan validate examples/ -json), as users of terraform and git
// expect; "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func newFlagSet(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: jplan %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// splitList flattens a repeatable flag whose values may also be
// comma-separated: --x a,b --x c is [a b c].
func splitList(m multiFlag) []string {
	var out []string
	for _, s := range m {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
