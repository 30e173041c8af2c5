package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/lang/format"
	"github.com/spf13/pflag"
)

func init() {
	register("fmt", "rewrite plans in canonical style", "fmt [flags] [PATH...]\n\nFormats plan files (.hcl) in canonical style. PATH is a file, a directory\n(its .hcl files; -recursive for subdirectories) or - for standard input;\ndefault: the current directory. Without -w or -check, prints the\nformatted source. Exit status: 0 ok, 1 with -check when a file is not\nformatted or when a file does not parse, 3 usage.", cmdFmt)
}

func cmdFmt(env *cliEnv, fs *pflag.FlagSet) func([]string) int {
	check := fs.Bool("check", false, "write nothing; list files that are not formatted and exit 1 if any")
	write := fs.Bool("w", false, "write the result back to each file")
	diff := fs.Bool("diff", false, "print a diff of the changes")
	recursive := fs.Bool("recursive", false, "also format files in subdirectories")
	noColor := fs.Bool("no-color", false, "never color the output")
	return func(paths []string) int {
		return fmtPaths(env, paths, *check, *write, *diff, *recursive, *noColor)
	}
}

func fmtPaths(env *cliEnv, paths []string, check, write, diff, recursive, noColor bool) int {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if check && write {
		fmt.Fprintln(env.stderr, "jplan fmt: -check and -w exclude each other: -check never writes.")
		return exitUsage
	}
	colored := useColor(env, env.stderr, noColor)
	status := exitOK
	for _, p := range paths {
		var files []string
		if p == "-" {
			src, err := io.ReadAll(io.LimitReader(env.stdin, lang.MaxFileSize+1))
			if err != nil {
				fmt.Fprintf(env.stderr, "jplan fmt: reading standard input: %v\n", err)
				return exitInvalid
			}
			out, diags := format.Source("<stdin>", src)
			if diags.HasErrors() {
				writeDiags(env.stderr, nil, diags, colored)
				status = exitInvalid
				continue
			}
			if check {
				if !bytes.Equal(out, src) {
					fmt.Fprintln(env.stdout, "<stdin>")
					status = exitInvalid
				}
				continue
			}
			env.stdout.Write(out)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan fmt: %v\n", err)
			status = exitInvalid
			continue
		}
		if info.IsDir() {
			files, err = hclFilesIn(p, recursive)
			if err != nil {
				fmt.Fprintf(env.stderr, "jplan fmt: %v\n", err)
				status = exitInvalid
				continue
			}
		} else {
			files = []string{p}
		}
		for _, f := range files {
			st := fmtFile(env, f, check, write, diff, colored)
			if st > status {
				status = st
			}
		}
	}
	return status
}

func fmtFile(env *cliEnv, path string, check, write, diff, colored bool) int {
	if strings.HasSuffix(path, ".json") {
		return exitOK // HCL JSON is formatted by JSON tools
	}
	parser := lang.NewParser()
	f, diags := parser.ParseFile(path)
	if diags.HasErrors() || f == nil {
		writeDiags(env.stderr, parser.Files(), diags, colored)
		fmt.Fprintf(env.stderr, "jplan fmt: %s does not parse; not formatted.\n", path)
		return exitInvalid
	}
	src := f.Bytes
	out, diags := format.Source(path, src)
	if diags.HasErrors() {
		writeDiags(env.stderr, parser.Files(), diags, colored)
		return exitInvalid
	}
	changed := !bytes.Equal(src, out)
	if diff && changed {
		io.WriteString(env.stdout, format.Diff(path, src, out))
	}
	switch {
	case check:
		if changed {
			if !diff {
				fmt.Fprintln(env.stdout, path)
			}
			return exitInvalid
		}
	case write:
		if changed {
			info, err := os.Stat(path)
			if err != nil {
				fmt.Fprintf(env.stderr, "jplan fmt: %v\n", err)
				return exitInvalid
			}
			if err := os.WriteFile(path, out, info.Mode().Perm()); err != nil {
				fmt.Fprintf(env.stderr, "jplan fmt: writing %s: %v\n", path, err)
				return exitInvalid
			}
			fmt.Fprintln(env.stdout, path)
		}
	case !diff:
		env.stdout.Write(out)
	}
	return exitOK
}

func hclFilesIn(dir string, recursive bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".hcl") {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}
