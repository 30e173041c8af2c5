package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/builtins"
	"github.com/zclconf/go-cty/cty"
)

// TestRegionUpToDate fails when docs/language.md's function reference does
// not match builtins.Docs: after changing a function, run the command.
func TestRegionUpToDate(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	region, err := render(root)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, docPath))
	if err != nil {
		t.Fatalf("%v: run %s", err, command)
	}
	b := strings.Index(string(doc), beginMarker+"\n")
	e := strings.Index(string(doc), endMarker)
	if b < 0 || e < b {
		t.Fatalf("%s has no function region: run %s", docPath, command)
	}
	if got := string(doc[b+len(beginMarker)+1 : e]); got != region {
		t.Fatalf("the function reference in %s is out of date: run %s", docPath, command)
	}
}

func TestRenderCoversEveryFunction(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	region, err := render(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range builtins.Docs() {
		if !strings.Contains(region, "### "+d.Name+"\n\n`"+d.Signature+"`\n\n"+d.Description+"\n\n```hcl\n"+d.Example+"\n") {
			t.Errorf("%s (%s) is missing or malformed in the reference", d.Name, d.Category)
		}
	}
	// Deterministic and computed results appear; random ones do not.
	for _, want := range []string{
		"upper(\"ok\")\n# => \"OK\"\n```",
		"seconds(\"1m30s\")\n# => 90\n```",
		"random_int(0, 4)\n```",
		"[log](#log-1)", // the number log, after the generator log
	} {
		if !strings.Contains(region, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}

func TestSplice(t *testing.T) {
	region := "NEW\n"
	block := beginMarker + "\nNEW\n" + endMarker + "\n"
	cases := []struct {
		name   string
		doc    string
		exists bool
		want   string
		err    string
	}{
		{name: "missing file", exists: false,
			want: "# The jplan plan language\n\nThe reference for each block of a plan will come here.\n\n" + block},
		{name: "replace region, keep the rest", exists: true,
			doc:  "# Title\n\nintro\n\n" + beginMarker + "\nOLD\nOLDER\n" + endMarker + "\n\n## Later\ntext\n",
			want: "# Title\n\nintro\n\n" + block + "\n## Later\ntext\n"},
		{name: "region at end without newline", exists: true,
			doc:  "x\n" + beginMarker + "\nOLD\n" + endMarker,
			want: "x\n" + block},
		{name: "no markers: append", exists: true,
			doc:  "# Title\ntext",
			want: "# Title\ntext\n\n" + block},
		{name: "only begin", exists: true, doc: beginMarker + "\n", err: "want one"},
		{name: "two regions", exists: true, doc: block + block, err: "found 2 and 2"},
		{name: "reversed", exists: true, doc: endMarker + "\n" + beginMarker + "\n", err: "comes before"},
	}
	for _, c := range cases {
		got, err := splice(c.doc, c.exists, region)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v\nwant %q", c.name, got, err, c.want)
		}
		// Splicing again with the same region changes nothing.
		if again, err := splice(got, true, region); err != nil || again != got {
			t.Errorf("%s: splice is not idempotent: %q, %v", c.name, again, err)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    cty.Value
		want string
	}{
		{cty.StringVal("a\"b\n"), `"a\"b\n"`},
		{cty.NumberIntVal(-3), "-3"},
		{cty.NullVal(cty.String), "null"},
		{cty.EmptyObjectVal, "{}"},
		{cty.ListVal([]cty.Value{cty.True, cty.False}), "[true, false]"},
		{cty.ObjectVal(map[string]cty.Value{"b": cty.NumberIntVal(1), "a-b c": cty.StringVal("x")}), `{ "a-b c" = "x", b = 1 }`},
	} {
		if got := formatValue(c.v); got != c.want {
			t.Errorf("formatValue(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}
