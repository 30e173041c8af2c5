package control

import (
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

// shells are the shells quoting must hold up in: /bin/sh (dash on Debian)
// and bash, the usual login shell on nodes.
func shells(t testing.TB) []string {
	var out []string
	for _, sh := range []string{"/bin/sh", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("no shell to test quoting against")
	}
	return out
}

// roundTrip has the shell print each quoted argument NUL-terminated and
// returns what it printed.
func roundTrip(t testing.TB, sh string, args []string) []string {
	t.Helper()
	line, err := QuoteArgv(append([]string{"printf", "%s\\0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", line).Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v", sh, line, err)
	}
	got := strings.Split(string(out), "\x00")
	return got[:len(got)-1]
}

var hostile = []string{
	"", " ", "plain", "it's", `"double"`, "$(id)", "`id`", "${HOME}", "$HOME",
	"a\nb", "tab\there", "back\\slash", "\\", "'", "''", `'\''`, "*", "?", "[a-z]",
	"~", "~root", "#comment", "a;b", "a&&b", "a|b", "a>b", "<in", "!bang", "=x", "x=y",
	"-n", "--", "ünïcödé ✓ 日本", "\x01\x7f", "trailing\n", "\r\n", "{a,b}", "%s", "-e",
}

func TestQuoteHostile(t *testing.T) {
	for _, sh := range shells(t) {
		got := roundTrip(t, sh, hostile)
		if len(got) != len(hostile) {
			t.Fatalf("%s: got %d args, want %d: %q", sh, len(got), len(hostile), got)
		}
		for i := range hostile {
			if got[i] != hostile[i] {
				t.Errorf("%s: arg %d: got %q, want %q (quoted %s)", sh, i, got[i], hostile[i], Quote(hostile[i]))
			}
		}
	}
}

func TestQuoteSafeWordsStayReadable(t *testing.T) {
	for _, s := range []string{"ls", "/var/log/etcd.log", "--data-dir=/x", "a,b", "user@host:22", "1.5"} {
		if q := Quote(s); q != s {
			t.Errorf("Quote(%q) = %q, want it unchanged", s, q)
		}
	}
	for _, s := range []string{"=x", "~", "a b", "a*"} {
		if q := Quote(s); q == s {
			t.Errorf("Quote(%q) left it unquoted", s)
		}
	}
}

func TestQuoteArgvRejectsNUL(t *testing.T) {
	if _, err := QuoteArgv([]string{"echo", "a\x00b"}); err == nil {
		t.Fatal("want an error for NUL")
	}
	if _, err := QuoteArgv(nil); err == nil {
		t.Fatal("want an error for empty argv")
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	sh := shells(f)[0]
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			if _, err := QuoteArgv([]string{s}); err == nil {
				t.Fatal("NUL accepted")
			}
			return
		}
		// Invalid UTF-8 is fine for the shell; keep it in the corpus.
		_ = utf8.ValidString(s)
		got := roundTrip(t, sh, []string{s})
		if len(got) != 1 || got[0] != s {
			t.Fatalf("quoted %s, shell gave %q, want %q", Quote(s), got, s)
		}
	})
}
