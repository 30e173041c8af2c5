package lang

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Limits that keep hostile input from hanging or crashing the parser. A plan
// is a few hundred lines; these are orders of magnitude above real use.
const (
	// MaxFileSize is the largest plan file read.
	MaxFileSize = 2 << 20
	// MaxNesting is the deepest bracket nesting accepted. HCL's parser is
	// recursive; a megabyte of "[[[[" would otherwise cost deep recursion.
	MaxNesting = 128
	// maxDiagsPerFile caps the diagnostics kept for one unparsable file: after
	// the first few, a binary file's errors say nothing new.
	maxDiagsPerFile = 20
)

// PlanFileExts are the file name endings of plan files: native HCL syntax and
// HCL's JSON syntax.
var PlanFileExts = []string{".hcl", ".hcl.json"}

// IsPlanFile reports whether name has a plan file ending.
func IsPlanFile(name string) bool {
	for _, ext := range PlanFileExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Parser reads plan files, keeping every file's source so diagnostics can be
// rendered with snippets.
type Parser struct {
	p *hclparse.Parser
}

// NewParser returns an empty parser.
func NewParser() *Parser { return &Parser{p: hclparse.NewParser()} }

// Files returns the sources of every file read so far, for
// hcl.NewDiagnosticTextWriter.
func (p *Parser) Files() map[string]*hcl.File { return p.p.Files() }

// ParseFile reads and parses one file. Oversized, binary and too deeply
// nested files are refused with a diagnostic before the HCL parser sees them.
func (p *Parser) ParseFile(path string) (*hcl.File, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{fileDiag(path, "Cannot read plan file", describeFSError(err))}
	}
	if info.IsDir() {
		return nil, hcl.Diagnostics{fileDiag(path, "Not a file", "Expected a plan file here, found a directory.")}
	}
	if info.Size() > MaxFileSize {
		return nil, hcl.Diagnostics{fileDiag(path, "Plan file too large",
			fmt.Sprintf("The file is %s; jplan reads plan files of at most %s. Is this really a plan?", humanBytes(info.Size()), humanBytes(MaxFileSize)))}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{fileDiag(path, "Cannot read plan file", describeFSError(err))}
	}
	return p.ParseSource(path, src)
}

// ParseSource parses src as if read from path; the path's ending selects the
// syntax.
func (p *Parser) ParseSource(path string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if len(src) > MaxFileSize {
		return nil, hcl.Diagnostics{fileDiag(path, "Plan file too large",
			fmt.Sprintf("The file is %s; jplan reads plan files of at most %s.", humanBytes(int64(len(src))), humanBytes(MaxFileSize)))}
	}
	if bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src) {
		return nil, hcl.Diagnostics{fileDiag(path, "Plan file is not text",
			"The file holds bytes that are not UTF-8 text (a binary file?). Plan files are HCL or HCL JSON text.")}
	}
	if depth, line := nestingDepth(src); depth > MaxNesting {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Plan nested too deeply",
			Detail:   fmt.Sprintf("Brackets are nested more than %d deep here; jplan refuses such files rather than risk exhausting the parser.", MaxNesting),
			Subject:  &hcl.Range{Filename: path, Start: hcl.Pos{Line: line, Column: 1, Byte: 0}, End: hcl.Pos{Line: line, Column: 1, Byte: 0}},
		}}
	}
	var (
		f     *hcl.File
		diags hcl.Diagnostics
	)
	if strings.HasSuffix(path, ".json") {
		f, diags = p.p.ParseJSON(src, path)
	} else {
		f, diags = p.p.ParseHCL(src, path)
	}
	if len(diags) > maxDiagsPerFile {
		more := len(diags) - maxDiagsPerFile
		diags = append(diags[:maxDiagsPerFile:maxDiagsPerFile], &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Too many errors",
			Detail:   fmt.Sprintf("%d more errors in %s are not shown.", more, path),
		})
	}
	return f, diags
}

// nestingDepth returns the deepest nesting of (, [ and { outside strings and
// comments, and the line where it was first exceeded past MaxNesting. It is
// a cheap over-approximation guard, not a parser: template interpolations
// inside strings are counted as nesting, which errs on the safe side.
func nestingDepth(src []byte) (maxDepth, line int) {
	depth := 0
	ln := 1
	inString := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' {
			ln++
			if inString { // HCL strings do not span lines; recover.
				inString = false
			}
			continue
		}
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i--
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
				i--
			}
		case '(', '[', '{':
			depth++
			if depth > maxDepth {
				maxDepth = depth
				if depth == MaxNesting+1 {
					line = ln
				}
			}
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return maxDepth, line
}

// PlanFiles lists the plan files of a directory, sorted by name so a plan's
// phase order does not depend on the file system.
func PlanFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || !IsPlanFile(e.Name()) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

func fileDiag(path, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}

func describeFSError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "There is no such file or directory."
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied."
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
