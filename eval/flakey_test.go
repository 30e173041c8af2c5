package eval_test

import (
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/zclconf/go-cty/cty"
)

// The flakey faults of testdata/valid/flakey.hcl, evaluated.
func TestFlakeyConfig(t *testing.T) {
	e, _ := compile(t, "../testdata/valid/flakey.hcl")
	want := map[string]struct {
		dir, mode, db, daemon string
		fl                    eval.FlakeyConfig
	}{
		"power":      {"/var/lib/kv", "lose-unfsynced", "kv", "kv", eval.FlakeyConfig{Size: 256 << 20, CorruptByte: 1, CorruptValue: 255}},
		"lying-disk": {"/var/lib/kv", "drop-writes", "kv", "kv", eval.FlakeyConfig{Size: 256 << 20, CorruptByte: 1, CorruptValue: 255}},
		"bad-disk":   {"/var/lib/kv", "error-writes", "", "", eval.FlakeyConfig{Size: 256 << 20, Up: 4 * time.Second, Down: 2 * time.Second, CorruptByte: 1, CorruptValue: 255}},
		"dead-disk":  {"/var/lib/kv", "error-all", "", "", eval.FlakeyConfig{Size: 256 << 20, Down: time.Minute, CorruptByte: 1, CorruptValue: 255}},
		"rot":        {"/srv/other", "corrupt-reads", "", "", eval.FlakeyConfig{Size: 1 << 30, CorruptByte: 32, CorruptValue: 0}},
		"scribble":   {"/srv/third", "corrupt-writes", "", "", eval.FlakeyConfig{Size: 64 << 20, CorruptByte: 1, CorruptValue: 255}},
	}
	for name, w := range want {
		c, diags := e.Fault(e.Plan.Fault(name))
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		if c.Type != "flakey" || c.Dir != w.dir || c.Mode != w.mode || c.DB != w.db || c.Daemon != w.daemon {
			t.Errorf("%s: %+v", name, c)
		}
		if c.Flakey == nil || *c.Flakey != w.fl {
			t.Errorf("%s: flakey config %+v, want %+v", name, c.Flakey, w.fl)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"256MiB": 256 << 20, "256M": 256 << 20, "1GiB": 1 << 30, "2G": 2 << 30,
		"512KiB": 512 << 10, "100MB": 100e6, "1TB": 1e12, "1TiB": 1 << 40,
		"4096": 4096, "4096B": 4096, " 64 MiB ": 64 << 20,
	}
	for s, want := range good {
		got, err := eval.ParseSize(cty.StringVal(s))
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	if got, err := eval.ParseSize(cty.NumberIntVal(1 << 24)); err != nil || got != 1<<24 {
		t.Errorf("ParseSize(number) = %d, %v", got, err)
	}
	for _, s := range []string{"", "MiB", "1.5GiB", "-1MiB", "12 parsecs", "1e3", "99999999999999TiB"} {
		if got, err := eval.ParseSize(cty.StringVal(s)); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", s, got)
		}
	}
	for _, v := range []cty.Value{cty.NumberFloatVal(1.5), cty.NumberIntVal(-1), cty.True} {
		if got, err := eval.ParseSize(v); err == nil {
			t.Errorf("ParseSize(%#v) = %d, want an error", v, got)
		}
	}
	for n, want := range map[int64]string{256 << 20: "256MiB", 1 << 30: "1GiB", 1536 << 20: "1536MiB", 1000: "1000B", 3 << 10: "3KiB"} {
		if got := eval.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
