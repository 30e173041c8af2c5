package eval

import (
	"fmt"
	"math"
	"math/big"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// FlakeyConfig is a flakey fault's device and dm-flakey settings (the
// fault's dir and mode are FaultConfig.Dir and FaultConfig.Mode).
type FlakeyConfig struct {
	// Size is the size of the device's backing file, in bytes.
	Size int64
	// Up and Down are dm-flakey's intervals, whole seconds: while the
	// fault is started the device works for Up, misbehaves for Down, and
	// again. Up 0 means it misbehaves the whole time (Down is then
	// irrelevant and may be 0).
	Up, Down time.Duration
	// CorruptByte (counted from 1) and CorruptValue are the byte of each
	// I/O the corrupt modes replace, and what they put there.
	CorruptByte, CorruptValue int
}

// FlakeyModes are the flakey fault's modes.
var FlakeyModes = []string{"lose-unfsynced", "drop-writes", "error-writes", "error-reads", "error-all", "corrupt-reads", "corrupt-writes"}

// Flakey defaults and limits.
const (
	DefaultFlakeySize  = 256 << 20
	MinFlakeySize      = 16 << 20
	MaxFlakeySize      = 1 << 40
	DefaultCorruptByte = 1
	// DefaultCorruptValue changes any text (0xff is in no UTF-8 text)
	// and any zeroed block.
	DefaultCorruptValue = 255
)

// DefaultFlakey is the configuration of a flakey fault that sets nothing.
func DefaultFlakey() FlakeyConfig {
	return FlakeyConfig{Size: DefaultFlakeySize, CorruptByte: DefaultCorruptByte, CorruptValue: DefaultCorruptValue}
}

// flakey evaluates a flakey fault's arguments into c.
func (e *Evaluator) flakey(f *lang.Fault, c *FaultConfig) hcl.Diagnostics {
	a, ctx := f.Args, e.root
	var diags, ds hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	fl := DefaultFlakey()
	c.Flakey = &fl

	if x := a.Expr("dir"); x != nil {
		c.Dir, ds = str(x, ctx, "dir", "")
		add(ds)
		if !ds.HasErrors() && known(exprValue(x, ctx)) {
			if why := checkFlakeyDir(c.Dir); why != "" {
				add(hcl.Diagnostics{valueDiag(x, "dir", why)})
			}
		}
	}
	c.Mode, ds = oneOfStrings(a.Expr("mode"), ctx, "mode", "", FlakeyModes...)
	add(ds)

	if x := a.Expr("size"); x != nil {
		v, ds := x.Value(ctx)
		add(ds)
		if !ds.HasErrors() && known(v) {
			n, err := ParseSize(v)
			switch {
			case err != nil:
				add(hcl.Diagnostics{valueDiag(x, "size", err.Error())})
			case n < MinFlakeySize || n > MaxFlakeySize:
				add(hcl.Diagnostics{valueDiag(x, "size", fmt.Sprintf("%s is out of range: expected 16MiB to 1TiB", FormatSize(n)))})
			default:
				fl.Size = n
			}
		}
	}

	lasting := c.Mode != "lose-unfsynced"
	notFor := func(x hcl.Expression, what, why string) {
		add(hcl.Diagnostics{valueDiag(x, what, why)})
	}
	for _, iv := range []struct {
		name string
		dst  *time.Duration
	}{{"up_interval", &fl.Up}, {"down_interval", &fl.Down}} {
		x := a.Expr(iv.name)
		if x == nil {
			continue
		}
		d, ds := duration(x, ctx, iv.name, 0, false)
		add(ds)
		if ds.HasErrors() || !known(exprValue(x, ctx)) {
			continue
		}
		switch {
		case !lasting && c.Mode != "":
			notFor(x, iv.name, `mode "lose-unfsynced" is one power failure, not a lasting state: intervals apply to the other modes`)
		case d%time.Second != 0:
			notFor(x, iv.name, fmt.Sprintf("%s is not a whole number of seconds (dm-flakey counts in seconds)", d))
		case d > math.MaxUint32*time.Second:
			notFor(x, iv.name, fmt.Sprintf("%s is too long", d))
		case iv.name == "down_interval" && d == 0:
			notFor(x, iv.name, "must be at least 1s (a device that is never down does nothing)")
		default:
			*iv.dst = d
		}
	}
	if x := a.Expr("up_interval"); x != nil && fl.Up > 0 && a.Expr("down_interval") == nil {
		add(hcl.Diagnostics{errDiag("Missing down_interval",
			"A flakey fault that is up for up_interval seconds needs down_interval, how long it then misbehaves, e.g. down_interval = \"5s\".", x.Range())})
	}
	if fl.Up+fl.Down > math.MaxUint32*time.Second {
		add(hcl.Diagnostics{errDiag("Intervals too long", "up_interval and down_interval together must be under 2^32 seconds.", f.DeclRange)})
	}

	corrupt := strings.HasPrefix(c.Mode, "corrupt-")
	if x := a.Expr("corrupt_byte"); x != nil {
		n, ds := integer(x, ctx, "corrupt_byte", DefaultCorruptByte, 1, math.MaxInt32)
		add(ds)
		if !ds.HasErrors() && c.Mode != "" && !corrupt {
			notFor(x, "corrupt_byte", fmt.Sprintf("only the corrupt-reads and corrupt-writes modes corrupt bytes, not %q", c.Mode))
		}
		fl.CorruptByte = n
	}
	if x := a.Expr("corrupt_value"); x != nil {
		n, ds := integer(x, ctx, "corrupt_value", DefaultCorruptValue, 0, 255)
		add(ds)
		if !ds.HasErrors() && c.Mode != "" && !corrupt {
			notFor(x, "corrupt_value", fmt.Sprintf("only the corrupt-reads and corrupt-writes modes corrupt bytes, not %q", c.Mode))
		}
		fl.CorruptValue = n
	}
	return diags
}

func exprValue(x hcl.Expression, ctx *hcl.EvalContext) cty.Value {
	v, _ := x.Value(ctx)
	return v
}

// checkFlakeyDir says what is wrong with a flakey fault's dir, or "".
func checkFlakeyDir(dir string) string {
	switch {
	case !path.IsAbs(dir):
		return fmt.Sprintf("%q is not an absolute path", dir)
	case path.Clean(dir) == "/":
		return "the root directory cannot be moved onto a device"
	case strings.IndexFunc(dir, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Sprintf("%q contains white space or control characters, which /proc/mounts escapes", dir)
	}
	return ""
}

// CheckFlakeyDir is checkFlakeyDir for the nemesis, which checks the
// configurations it is given again.
func CheckFlakeyDir(dir string) error {
	if why := checkFlakeyDir(dir); why != "" {
		return fmt.Errorf("dir: %s", why)
	}
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest first, so "MiB" is not read as "M" followed by junk.
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseSize reads a size: a whole number of bytes, or a string of a whole
// number and a unit: KiB, MiB, GiB, TiB (or K, M, G, T: powers of 1024),
// KB, MB, GB, TB (powers of 1000) or B.
func ParseSize(v cty.Value) (int64, error) {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() {
		return 0, fmt.Errorf("a size is required")
	}
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || n < 0 {
			return 0, fmt.Errorf("%s is not a whole number of bytes", bf.Text('g', 10))
		}
		return n, nil
	case cty.String:
		s := strings.TrimSpace(v.AsString())
		num, mult := s, int64(1)
		for _, u := range sizeUnits {
			if strings.HasSuffix(s, u.suffix) {
				num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
				break
			}
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a size: expected a whole number and a unit, e.g. \"256MiB\" or \"1GiB\"", s)
		}
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return n * mult, nil
	}
	return 0, fmt.Errorf("expected a size like \"256MiB\", got %s", v.Type().FriendlyName())
}

// FormatSize writes a size in the largest binary unit that divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
