package lang_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
)

// The language reference, docs/language.md, must document every block and
// argument the decoder accepts, and its examples must be right. These tests
// keep it that way: adding an argument to a schema without documenting it,
// or breaking an example, fails here.

const docPath = "../docs/language.md"

// The function reference is generated (builtins/internal/gendoc) and tested
// with the builtins; its headings and examples (expressions, not bodies) are
// left out here.
const (
	genBegin = "<!-- BEGIN FUNCTIONS"
	genEnd   = "<!-- END FUNCTIONS -->"
)

// docLine is one line of the reference outside the generated region, with
// what it is: a heading (level > 0), a line of a fenced code block, or text.
type docLine struct {
	text   string
	level  int
	inCode bool
}

type doc struct {
	lines []docLine
	// blocks are the fenced code blocks, with their info string.
	blocks []codeBlock
}

type codeBlock struct {
	lang string
	line int // 1-based line of the opening fence
	src  string
}

func readDoc(t *testing.T) *doc {
	t.Helper()
	src, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("reading the language reference: %v", err)
	}
	text := string(src)
	begin := strings.Index(text, genBegin)
	if end := strings.Index(text, genEnd); begin < 0 || end < begin {
		t.Fatalf("%s: the generated function region (%q ... %q) is missing or malformed", docPath, genBegin, genEnd)
	}
	d := &doc{}
	var (
		inCode bool
		cur    *codeBlock
		body   strings.Builder
	)
	for i, l := range strings.Split(text, "\n") {
		lineNo := i + 1
		if strings.HasPrefix(l, genBegin) {
			break // the rest of the generated region, and after it, is not ours
		}
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			if !inCode {
				inCode = true
				cur = &codeBlock{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: lineNo}
				body.Reset()
			} else {
				inCode = false
				cur.src = body.String()
				d.blocks = append(d.blocks, *cur)
			}
			d.lines = append(d.lines, docLine{text: l, inCode: true})
			continue
		}
		if inCode {
			body.WriteString(l)
			body.WriteByte('\n')
			d.lines = append(d.lines, docLine{text: l, inCode: true})
			continue
		}
		dl := docLine{text: l}
		if m := headingRE.FindStringSubmatch(l); m != nil {
			dl.level = len(m[1])
		}
		d.lines = append(d.lines, dl)
	}
	if inCode {
		t.Fatalf("%s: code block opened at line %d is never closed", docPath, cur.line)
	}
	return d
}

var headingRE = regexp.MustCompile("^(#{1,6})\\s+\\S")

// section is a heading and the lines up to the next heading of the same or
// a higher level (so it includes its subsections).
type section struct {
	start, end int // line indexes: start is the heading
	level      int
}

// whole is the pseudo-section holding the whole document.
func (d *doc) whole() section { return section{start: -1, end: len(d.lines), level: 0} }

// child finds, inside s, the first heading below s's level that names name
// in backticks. Top-level blocks are searched among level-2 headings only,
// so a code span in a deeper heading elsewhere cannot stand in for them.
func (d *doc) child(s section, name string) (section, bool) {
	want := "`" + name + "`"
	for i := s.start + 1; i < s.end; i++ {
		l := d.lines[i]
		if l.level == 0 || l.level <= s.level {
			continue
		}
		if s.level == 0 && l.level != 2 {
			continue
		}
		if !strings.Contains(l.text, want) {
			continue
		}
		end := i + 1
		for end < s.end && (d.lines[end].level == 0 || d.lines[end].level > l.level) {
			end++
		}
		return section{start: i, end: end, level: l.level}, true
	}
	return section{}, false
}

// own returns the text of s up to its first subheading, code blocks left
// out: where the block's own arguments must be documented.
func (d *doc) own(s section) string {
	var sb strings.Builder
	for i := s.start + 1; i < s.end; i++ {
		l := d.lines[i]
		if l.level > 0 {
			break
		}
		if l.inCode {
			continue
		}
		sb.WriteString(l.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// find locates a schema path's section: "db.daemon.ready" is the ready
// heading inside daemon inside db; "fault:partition" is the partition
// heading inside fault.
func (d *doc) find(path string) (section, string, bool) {
	var parts []string
	if block, kind, ok := strings.Cut(path, ":"); ok {
		parts = append(strings.Split(block, "."), kind)
	} else {
		parts = strings.Split(path, ".")
	}
	s := d.whole()
	for i, p := range parts {
		var ok bool
		if s, ok = d.child(s, p); !ok {
			return s, strings.Join(parts[:i+1], " > "), false
		}
	}
	return s, strings.Join(parts, " > "), true
}

func sortedPaths() []string {
	var paths []string
	for p := range lang.Schemas() {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// TestDocsCoverSchemas checks that every block path and argument of the
// language has its place in the reference.
func TestDocsCoverSchemas(t *testing.T) {
	d := readDoc(t)
	schemas := lang.Schemas()
	if len(schemas) == 0 {
		t.Fatal("lang.Schemas() is empty")
	}
	for _, path := range sortedPaths() {
		s := schemas[path]
		if path == "" {
			// The root: every top-level block type needs a section.
			for _, b := range s.Blocks {
				if _, ok := d.child(d.whole(), b.Type); !ok {
					t.Errorf("%s: no section for the %s block: add a heading \"## `%s`\"", docPath, b.Type, b.Type)
				}
			}
			continue
		}
		sec, where, ok := d.find(path)
		if !ok {
			t.Errorf("%s: no section for %q (looked for a heading naming %s in backticks)", docPath, path, where)
			continue
		}
		own := d.own(sec)
		for _, a := range s.Attrs {
			if !strings.Contains(own, "`"+a.Name+"`") {
				t.Errorf("%s: argument %q of %q is not documented in its section (%q): write it as `%s`, before any subheading",
					docPath, a.Name, path, strings.TrimSpace(d.lines[sec.start].text), a.Name)
			}
		}
		for _, b := range s.Blocks {
			if _, ok := d.child(sec, b.Type); !ok {
				t.Errorf("%s: block %q inside %q has no subsection", docPath, b.Type, path)
			}
		}
		// The other way round: an argument table must not list arguments
		// the block does not take (a renamed or removed one).
		known := map[string]bool{}
		for _, a := range s.Attrs {
			known[a.Name] = true
		}
		if rows := argumentRows(own); len(rows) > 0 {
			for _, r := range rows {
				if !known[r] {
					t.Errorf("%s: the table of %q documents `%s`, which %q does not accept", docPath, path, r, path)
				}
			}
		}
	}
}

// argumentRows returns the names in the first column of argument tables,
// those whose header starts with "| Argument".
func argumentRows(text string) []string {
	var out []string
	inTable := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "| Argument"):
			inTable = true
		case !strings.HasPrefix(l, "|"):
			inTable = false
		case inTable:
			if m := rowRE.FindStringSubmatch(l); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

var rowRE = regexp.MustCompile("^\\|\\s*`([a-z_]+)`\\s*\\|")

// TestDocsCoverKinds checks that every fault type, client kind and checker
// kind has a heading under its block's section.
func TestDocsCoverKinds(t *testing.T) {
	d := readDoc(t)
	for _, group := range []struct {
		block string
		kinds map[string]lang.Schema
	}{
		{"fault", lang.FaultTypes},
		{"client", lang.ClientKinds},
		{"checker", lang.CheckerKinds},
	} {
		parent, ok := d.child(d.whole(), group.block)
		if !ok {
			t.Errorf("%s: no section for the %s block", docPath, group.block)
			continue
		}
		var kinds []string
		for k := range group.kinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			if _, ok := d.child(parent, k); !ok {
				t.Errorf("%s: %s %q has no heading naming `%s` under \"%s\"", docPath, group.block, k, k, strings.TrimSpace(d.lines[parent.start].text))
			}
		}
	}
}

// TestDocsExamples validates every example of the reference: a complete
// plan (one with a test block) must validate without errors, as
// `jplan validate` would see it; a fragment must at least parse.
func TestDocsExamples(t *testing.T) {
	d := readDoc(t)
	dir := t.TempDir()
	plans, fragments := 0, 0
	for _, b := range d.blocks {
		var ext string
		switch b.lang {
		case "hcl":
			ext = ".hcl"
		case "json":
			ext = ".hcl.json"
		default:
			continue
		}
		name := "example at line " + strconv.Itoa(b.line)
		if !isPlan(t, name, b, ext) {
			fragments++
			continue
		}
		plans++
		file := filepath.Join(dir, "example-line-"+strconv.Itoa(b.line)+ext)
		if err := os.WriteFile(file, []byte(b.src), 0o644); err != nil {
			t.Fatal(err)
		}
		checked, global := eval.ValidatePaths(lang.NewParser(), []string{file}, eval.InputOptions{})
		diags := append(hcl.Diagnostics{}, global...)
		for _, c := range checked {
			diags = append(diags, c.Diags...)
		}
		for _, dg := range diags {
			if dg.Severity != hcl.DiagError {
				continue
			}
			line := b.line
			if dg.Subject != nil {
				line += dg.Subject.Start.Line
			}
			t.Errorf("%s:%d: example plan (block at line %d) is invalid: %s: %s", docPath, line, b.line, dg.Summary, dg.Detail)
		}
	}
	if plans == 0 {
		t.Errorf("%s: no complete example plan found (an hcl block with a test block)", docPath)
	}
	t.Logf("%d complete plans validated, %d fragments parsed", plans, fragments)
}

// isPlan parses an example and reports whether it is a complete plan. A
// fragment that does not even parse is an error.
func isPlan(t *testing.T, name string, b codeBlock, ext string) bool {
	t.Helper()
	if ext == ".hcl.json" {
		f, diags := lang.NewParser().ParseSource("example"+ext, []byte(b.src))
		if diags.HasErrors() {
			t.Errorf("%s: JSON %s does not parse: %s", docPath, name, diags.Error())
			return false
		}
		return hasTest(f.Body)
	}
	f, diags := hclsyntax.ParseConfig([]byte(b.src), "example"+ext, hcl.InitialPos)
	if diags.HasErrors() {
		t.Errorf("%s: example does not parse: %s", name, diags.Error())
		return false
	}
	return hasTest(f.Body)
}

func hasTest(body hcl.Body) bool {
	c, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "test", LabelNames: []string{"name"}}}})
	return c != nil && len(c.Blocks) > 0
}
