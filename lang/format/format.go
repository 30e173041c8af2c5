// Package format rewrites plan source in canonical style (hclwrite's
// formatting), refusing source that does not parse, and renders diffs.
package format

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/rogpeppe/go-internal/diff"
)

// Source formats one file's source. Formatting an unparsable file would
// mangle it further, so syntax errors are returned instead.
func Source(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	out := hclwrite.Format(src)
	// One trailing newline, none missing: editors and diffs like it.
	out = append(bytes.TrimRight(out, "\n"), '\n')
	if len(bytes.TrimSpace(out)) == 0 {
		out = []byte{}
	}
	return out, nil
}

// Diff returns a unified diff of a and b, labelled with path; empty when
// they are equal. It is go-internal's diff (the go command's): it runs in
// O(n log n), so hostile input stays cheap, and it anchors on unique
// lines, so hunks follow the plan's blocks rather than stray braces.
func Diff(path string, a, b []byte) string {
	return string(diff.Diff(path, a, path+" (formatted)", b))
}
