package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Source is one plan found on disk: its name (the file, or the directory),
// the directory relative paths in it resolve against, and its parsed files.
type Source struct {
	Name  string
	Dir   string
	Files []*hcl.File
}

// Load finds and parses the plans at path and decodes each one.
//
// A file is one plan. A directory is one plan made of all its plan files —
// unless several of its files each declare a test block: then each file is a
// plan of its own, so a folder of example plans validates as a whole. In
// that case every file must have its own test block, because sharing a file
// among several plans would make each plan's meaning depend on its
// neighbours.
func Load(p *Parser, path string) ([]*Source, []*Plan, hcl.Diagnostics) {
	sources, diags := Find(p, path)
	var plans []*Plan
	for _, s := range sources {
		pl, ds := Decode(s.Files)
		diags = append(diags, ds...)
		plans = append(plans, pl)
	}
	return sources, plans, diags
}

// Find parses the plan files at path and groups them into plans, without
// decoding.
func Find(p *Parser, path string) ([]*Source, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{fileDiag(path, "Cannot read plan", describeFSError(err))}
	}
	if !info.IsDir() {
		f, diags := p.ParseFile(path)
		if f == nil {
			return nil, diags
		}
		return []*Source{{Name: path, Dir: filepath.Dir(path), Files: []*hcl.File{f}}}, diags
	}
	names, err := PlanFiles(path)
	if err != nil {
		return nil, hcl.Diagnostics{fileDiag(path, "Cannot read plan directory", describeFSError(err))}
	}
	if len(names) == 0 {
		return nil, hcl.Diagnostics{fileDiag(path, "No plan files",
			fmt.Sprintf("The directory %s holds no plan files (files ending in %s).", path, strings.Join(PlanFileExts, " or ")))}
	}
	var (
		diags    hcl.Diagnostics
		files    []*hcl.File
		fnames   []string
		withTest []bool
	)
	for _, n := range names {
		f, ds := p.ParseFile(n)
		diags = append(diags, ds...)
		if f == nil {
			continue
		}
		files = append(files, f)
		fnames = append(fnames, n)
		withTest = append(withTest, hasTestBlock(f))
	}
	tests := 0
	for _, t := range withTest {
		if t {
			tests++
		}
	}
	if tests <= 1 {
		if len(files) == 0 {
			return nil, diags
		}
		return []*Source{{Name: path, Dir: path, Files: files}}, diags
	}
	var out []*Source
	for i, f := range files {
		if !withTest[i] {
			diags = append(diags, fileDiag(fnames[i], "File belongs to no plan",
				fmt.Sprintf("The directory %s holds several plans (%d files with a test block), so each file is a plan of its own; this one has no test block. Add one, or move the plans into directories of their own.", path, tests)))
			continue
		}
		out = append(out, &Source{Name: fnames[i], Dir: path, Files: []*hcl.File{f}})
	}
	return out, diags
}

func hasTestBlock(f *hcl.File) bool {
	c, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "test", LabelNames: []string{"name"}}}})
	return c != nil && len(c.Blocks) > 0
}
