package run_test

import "github.com/jplan/jplan/eval"

func evalInputs(vars []string) eval.InputOptions { return eval.InputOptions{Vars: vars} }
