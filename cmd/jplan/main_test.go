package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run jplan in-process as the `jplan` command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"jplan": func() {
			os.Exit(runMain(&cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ}, os.Args[1:]))
		},
	})
}

// TestScripts runs the CLI behaviour specs in testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"genfile": genfile,
			"status":  status,
		},
	})
}

// status CODE CMD ARGS... runs CMD and fails unless it exits with CODE;
// its stdout and stderr are kept for the following stdout/stderr lines,
// as exec's are. The exit codes are part of the CLI's contract.
func status(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE CMD [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// genfile NAME KIND SIZE writes a generated file: binary (random bytes),
// text (a comment of SIZE bytes) or nested (SIZE open brackets).
func genfile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: genfile NAME binary|text|nested SIZE")
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	var data []byte
	switch args[1] {
	case "binary":
		data = make([]byte, n)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
	case "text":
		data = append([]byte("# "), bytes.Repeat([]byte("x"), n)...)
	case "nested":
		data = append([]byte(`test "x" { nodes = `), bytes.Repeat([]byte("["), n)...)
	default:
		ts.Fatalf("unknown kind %q", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}
