package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"
)

// useColor decides whether to color output written to w: only for a
// terminal, and never when NO_COLOR is set (https://no-color.org) or
// -no-color was given.
func useColor(env *cliEnv, w io.Writer, noColor bool) bool {
	if noColor || env.getenv("NO_COLOR") != "" || env.getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// isTerminal reports whether w is a terminal (for the live progress line,
// which NO_COLOR does not turn off).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// writeDiags renders diagnostics with source snippets, as HCL tools do.
func writeDiags(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, colored bool) {
	if len(diags) == 0 {
		return
	}
	tw := hcl.NewDiagnosticTextWriter(w, files, 100, colored)
	for _, d := range diags {
		_ = tw.WriteDiagnostic(d)
	}
}

// colorer returns a Sprint function for an attribute, doing nothing when
// color is off.
func colorer(on bool, attrs ...color.Attribute) func(a ...interface{}) string {
	c := color.New(attrs...)
	if on {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c.SprintFunc()
}

// jsonDiag is a diagnostic as -json prints it; the shape follows terraform
// validate -json so editor integrations need little new code.
type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
	Snippet  *string    `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func toJSONDiags(files map[string]*hcl.File, diags hcl.Diagnostics) []jsonDiag {
	out := make([]jsonDiag, 0, len(diags))
	for _, d := range diags {
		jd := jsonDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			r := d.Subject
			jd.Range = &jsonRange{Filename: r.Filename,
				Start: jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:   jsonPos{r.End.Line, r.End.Column, r.End.Byte}}
			if f, ok := files[r.Filename]; ok && f != nil {
				lines := sourceLine(f.Bytes, r.Start.Line)
				jd.Snippet = &lines
			}
		}
		out = append(out, jd)
	}
	return out
}

func sourceLine(src []byte, line int) string {
	cur := 1
	start := 0
	for i, b := range src {
		if cur == line {
			start = i
			break
		}
		if b == '\n' {
			cur++
			if i+1 == len(src) {
				return ""
			}
		}
	}
	if cur != line {
		return ""
	}
	end := start
	for end < len(src) && src[end] != '\n' {
		end++
	}
	return string(src[start:end])
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
