package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// multiFlag collects a repeatable string flag such as -var.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
func (m *multiFlag) Type() string       { return "string" }

// normalizeArgs rewrites single-dash long flags (-var, -json, -matrix: the
// Go flag package's style, which users and older docs use) to pflag's
// double dash, so both spellings work. A single letter stays a shorthand
// unless the command has a long flag of that name and no such shorthand
// (-w, -n). Values of flags that take one, and everything after "--", are
// left alone; so is a completion request, whose words the shell matches.
func normalizeArgs(root *cobra.Command, args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return args
	}
	// Find the command the arguments name: leading words that are
	// subcommand names.
	cmd := root
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		next := (*cobra.Command)(nil)
		for _, c := range cmd.Commands() {
			if c.Name() == a || c.HasAlias(a) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd = next
	}
	lookup := func(name string) *pflag.Flag {
		if f := cmd.Flags().Lookup(name); f != nil {
			return f
		}
		return cmd.InheritedFlags().Lookup(name)
	}
	out := make([]string, 0, len(args))
	skipValue := false
	for i, a := range args {
		if skipValue {
			skipValue = false
			out = append(out, a)
			continue
		}
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		body := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, _, hasValue := strings.Cut(body, "=")
		if !strings.HasPrefix(a, "--") {
			if len(name) > 1 || (lookup(name) != nil && cmd.Flags().ShorthandLookup(name) == nil && name != "h") {
				a = "--" + body
			} else {
				out = append(out, a)
				continue
			}
		}
		out = append(out, a)
		if f := lookup(name); f != nil && !hasValue && f.NoOptDefVal == "" {
			skipValue = true
		}
	}
	return out
}

// usageHint points to a command's help after a usage mistake.
func usageHint(env *cliEnv, name string) {
	fmt.Fprintf(env.stderr, "Run 'jplan %s -h' for its flags.\n", name)
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
