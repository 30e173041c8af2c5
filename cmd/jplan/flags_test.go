package main

import (
	"io"
	"reflect"
	"testing"
)

// TestNormalizeArgs: single-dash long flags become pflag's double dash;
// a flag's value, shorthands, "-", "--" and what follows it, and
// completion requests are left alone.
func TestNormalizeArgs(t *testing.T) {
	code := 0
	root := newRoot(&cliEnv{stdout: io.Discard, stderr: io.Discard}, &code)
	cases := []struct{ in, want []string }{
		{[]string{"run", "-var", "x=1", "p.hcl", "-json"}, []string{"run", "--var", "x=1", "p.hcl", "--json"}},
		{[]string{"run", "-var=x=1", "-matrix", "n=[1,2]"}, []string{"run", "--var=x=1", "--matrix", "n=[1,2]"}},
		// A value that looks like a flag is still a value.
		{[]string{"check", "--initial", "-5", "h.jsonl"}, []string{"check", "--initial", "-5", "h.jsonl"}},
		{[]string{"run", "-time-limit", "-1s"}, []string{"run", "--time-limit", "-1s"}},
		// One-letter long names take one dash; -h stays help.
		{[]string{"fmt", "-w", "-check", "."}, []string{"fmt", "--w", "--check", "."}},
		{[]string{"cluster", "up", "-n", "3"}, []string{"cluster", "up", "--n", "3"}},
		{[]string{"run", "-h"}, []string{"run", "-h"}},
		// Unknown long flags too, so the error names them as typed.
		{[]string{"run", "-nope"}, []string{"run", "--nope"}},
		{[]string{"fmt", "-", "--", "-w"}, []string{"fmt", "-", "--", "-w"}},
		{[]string{"__complete", "run", "-va"}, []string{"__complete", "run", "-va"}},
	}
	for _, c := range cases {
		if got := normalizeArgs(root, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSuggestFlag: the nearest flag within two edits, or one the typed
// name begins; nothing for a name far from every flag.
func TestSuggestFlag(t *testing.T) {
	code := 0
	root := newRoot(&cliEnv{stdout: io.Discard, stderr: io.Discard}, &code)
	run, _, err := root.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	for typed, want := range map[string]string{
		"concurency":  "concurrency",
		"usernam":     "username",
		"ssh-key":     "",
		"test-cout":   "test-count",
		"strict-host": "strict-host-key-checking",
		"xyzzy":       "",
	} {
		if got := suggestFlag(run, typed); got != want {
			t.Errorf("suggestFlag(run, %q) = %q, want %q", typed, got, want)
		}
	}
}
