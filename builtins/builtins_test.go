package builtins

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// mode selects the Scope an expression is evaluated in.
type mode int

const (
	perOp       mode = iota // Rand set: an operation's value or request
	topLevel                // no Rand, not validating: plan top level
	validate                // no Rand, validating: jplan validate
	validateTop             // validating the top level, where random is forbidden
)

func scopeFor(m mode) Scope {
	s := Scope{BaseDir: "testdata"}
	switch m {
	case perOp:
		s.Rand = rand.New(rand.NewPCG(1, 2))
	case validate:
		s.Validate = true
	case validateTop:
		s.Validate = true
		s.NoRandom = true
	}
	return s
}

// sampleVariables stand in for what eval binds: operation.<name> and
// fault.<name>.start/stop leaves, plus unknowns of various types for
// exercising static validation.
func sampleVariables() map[string]cty.Value {
	fault := func(name string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"start": FaultGenerator(name, "start"),
			"stop":  FaultGenerator(name, "stop"),
		})
	}
	return map[string]cty.Value{
		"operation": cty.ObjectVal(map[string]cty.Value{
			"read":  OperationGenerator("read"),
			"write": OperationGenerator("write"),
			"cas":   OperationGenerator("cas"),
		}),
		"fault": cty.ObjectVal(map[string]cty.Value{
			"partition": fault("partition"),
			"crash":     fault("crash"),
		}),
		"unknown_gen": cty.UnknownVal(GeneratorType),
		"unknown_str": cty.UnknownVal(cty.String),
		"unknown_num": cty.UnknownVal(cty.Number),
		"unknown":     cty.DynamicVal,
	}
}

func evalIn(s Scope, src string) (cty.Value, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, errors.New("parse: " + diags.Error())
	}
	ctx := &hcl.EvalContext{Variables: sampleVariables(), Functions: Functions(s)}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return v, errors.New(diags.Error())
	}
	return v, nil
}

type fnCase struct {
	fn   string // the function under test; every function needs a case
	expr string
	mode mode
	want cty.Value // compared with RawEquals when set
	gen  string    // when set, the result must be a generator rendering as this
	err  string    // when set, evaluation must fail with this substring
}

var (
	str  = cty.StringVal
	num  = cty.NumberIntVal
	strs = func(ss ...string) cty.Value {
		vs := make([]cty.Value, len(ss))
		for i, s := range ss {
			vs[i] = cty.StringVal(s)
		}
		return cty.ListVal(vs)
	}
)

func functionCases() []fnCase {
	return []fnCase{
		// Numbers.
		{fn: "abs", expr: `abs(-3)`, want: num(3)},
		{fn: "abs", expr: `abs("x")`, err: "a number is required"},
		{fn: "ceil", expr: `ceil(4.2)`, want: num(5)},
		{fn: "floor", expr: `floor(4.8)`, want: num(4)},
		{fn: "log", expr: `log(1024, 2)`, want: num(10)},
		{fn: "log", expr: `log(unknown_num, 2)`, mode: validate, want: cty.UnknownVal(cty.Number)},
		{fn: "log", expr: `log("x", 2)`, err: "number required"},
		{fn: "log", expr: `log(1, 2, 3)`, err: "log takes 1 argument, log(message), or 2, log(num, base)"},
		{fn: "max", expr: `max(3, 9, 4)`, want: num(9)},
		{fn: "min", expr: `min(3, 9, 4)`, want: num(3)},
		{fn: "parseint", expr: `parseint("ff", 16)`, want: num(255)},
		{fn: "parseint", expr: `parseint("fg", 16)`, err: `cannot parse "fg" as a base 16 integer`},
		{fn: "pow", expr: `pow(2, 10)`, want: num(1024)},
		{fn: "signum", expr: `signum(-7)`, want: num(-1)},

		// Strings.
		{fn: "chomp", expr: `chomp("leader\r\n")`, want: str("leader")},
		{fn: "endswith", expr: `endswith("etcd.log", ".log")`, want: cty.True},
		{fn: "endswith", expr: `endswith("etcd.log", ".txt")`, want: cty.False},
		{fn: "endswith", expr: `endswith("a")`, err: "Not enough function arguments"},
		{fn: "format", expr: `format("%s:%d", "n1", 2379)`, want: str("n1:2379")},
		{fn: "formatlist", expr: `formatlist("%s:2380", ["n1", "n2"])`, want: strs("n1:2380", "n2:2380")},
		{fn: "indent", expr: `indent(2, "a:\nb: 1")`, want: str("a:\n  b: 1")},
		{fn: "join", expr: `join(",", ["n1", "n2"], ["n3"])`, want: str("n1,n2,n3")},
		{fn: "lower", expr: `lower("LEADER")`, want: str("leader")},
		{fn: "regex", expr: `regex("term=(\\d+)", "leader n1 term=7")[0]`, want: str("7")},
		{fn: "regex", expr: `regex("term=(\\d+)", "no match")`, err: "pattern did not match"},
		{fn: "regexall", expr: `regexall("n\\d", "n1,n2,n3")`, want: strs("n1", "n2", "n3")},
		{fn: "replace", expr: `replace("n1.example.org", ".example.org", "")`, want: str("n1")},
		{fn: "replace", expr: `replace("a.b.c", ".", "-")`, want: str("a-b-c")},
		{fn: "replace", expr: `replace("n12 n3", "/n([0-9]+)/", "node$1")`, want: str("node12 node3")},
		{fn: "split", expr: `split(",", "n1,n2")`, want: strs("n1", "n2")},
		{fn: "startswith", expr: `startswith("http://n1", "http://")`, want: cty.True},
		{fn: "startswith", expr: `startswith("n1", "http://")`, want: cty.False},
		{fn: "startswith", expr: `startswith(unknown_str, "x")`, want: cty.UnknownVal(cty.Bool)},
		{fn: "strcontains", expr: `strcontains("request timed out", "timed out")`, want: cty.True},
		{fn: "strcontains", expr: `strcontains("ok", "timed out")`, want: cty.False},
		{fn: "strrev", expr: `strrev("abc")`, want: str("cba")},
		{fn: "substr", expr: `substr("etcd-v3.5.17", 6, -1)`, want: str("3.5.17")},
		{fn: "title", expr: `title("read write")`, want: str("Read Write")},
		{fn: "trim", expr: `trim("--n1--", "-")`, want: str("n1")},
		{fn: "trimprefix", expr: `trimprefix("http://n1", "http://")`, want: str("n1")},
		{fn: "trimspace", expr: `trimspace("  42\n")`, want: str("42")},
		{fn: "trimsuffix", expr: `trimsuffix("etcd.log", ".log")`, want: str("etcd")},
		{fn: "upper", expr: `upper("ok")`, want: str("OK")},

		// Collections.
		{fn: "chunklist", expr: `length(chunklist(["a", "b", "c"], 2))`, want: num(2)},
		{fn: "coalesce", expr: `coalesce(null, "x")`, want: str("x")},
		{fn: "coalescelist", expr: `coalescelist([], ["n1"])`, want: cty.TupleVal([]cty.Value{str("n1")})},
		{fn: "compact", expr: `compact(["n1", "", "n3"])`, want: strs("n1", "n3")},
		{fn: "concat", expr: `concat(["n1"], ["n2"])`, want: cty.TupleVal([]cty.Value{str("n1"), str("n2")})},
		{fn: "contains", expr: `contains(["ok", "fail"], "ok")`, want: cty.True},
		{fn: "contains", expr: `contains(["ok", "fail"], "info")`, want: cty.False},
		{fn: "distinct", expr: `distinct(["a", "b", "a"])`, want: strs("a", "b")},
		{fn: "element", expr: `element(["n1", "n2", "n3"], 4)`, want: str("n2")},
		{fn: "flatten", expr: `length(flatten([["a", "b"], ["c"], []]))`, want: num(3)},
		{fn: "keys", expr: `keys({ n2 = 1, n1 = 2 })`, want: cty.TupleVal([]cty.Value{str("n1"), str("n2")})},
		{fn: "length", expr: `length(["n1", "n2", "n3"])`, want: num(3)},
		{fn: "length", expr: `length({ a = 1 })`, want: num(1)},
		{fn: "length", expr: `length("héllo")`, want: num(5)},
		{fn: "length", expr: `length(unknown_str)`, want: cty.UnknownVal(cty.Number)},
		{fn: "length", expr: `length(unknown)`, mode: validate, want: cty.UnknownVal(cty.Number)},
		{fn: "length", expr: `length(true)`, err: "collection must be a list, a map or a tuple"},
		{fn: "lookup", expr: `lookup({ n1 = "leader" }, "n2", "follower")`, want: str("follower")},
		{fn: "merge", expr: `merge({ a = 1, b = 2 }, { a = 3 }).a`, want: num(3)},
		{fn: "range", expr: `range(1, 4)`, want: cty.ListVal([]cty.Value{num(1), num(2), num(3)})},
		{fn: "reverse", expr: `reverse(["a", "b"])`, want: cty.TupleVal([]cty.Value{str("b"), str("a")})},
		{fn: "setintersection", expr: `setintersection(["n1", "n2"], ["n2", "n3"])`, want: cty.SetVal([]cty.Value{str("n2")})},
		{fn: "setproduct", expr: `length(setproduct(["n1", "n2"], ["r", "w", "c"]))`, want: num(6)},
		{fn: "setunion", expr: `length(setunion(["n1", "n2"], ["n2", "n3"]))`, want: num(3)},
		{fn: "slice", expr: `slice(["a", "b", "c", "d"], 1, 3)`, want: cty.TupleVal([]cty.Value{str("b"), str("c")})},
		{fn: "sort", expr: `sort(["n3", "n1", "n10"])`, want: strs("n1", "n10", "n3")},
		{fn: "values", expr: `values({ b = "y", a = "x" })`, want: cty.TupleVal([]cty.Value{str("x"), str("y")})},
		{fn: "zipmap", expr: `zipmap(["n1"], ["10.0.0.1"]).n1`, want: str("10.0.0.1")},

		// Conversion.
		{fn: "can", expr: `can(regex("^n[0-9]+$", "n12"))`, want: cty.True},
		{fn: "can", expr: `can(regex("^n[0-9]+$", "x"))`, want: cty.False},
		{fn: "tobool", expr: `tobool("true")`, want: cty.True},
		{fn: "tobool", expr: `tobool("yes")`, err: "cannot convert"},
		{fn: "tolist", expr: `tolist(["a", "b"])`, want: strs("a", "b")},
		{fn: "tomap", expr: `tomap({ a = "x" })`, want: cty.MapVal(map[string]cty.Value{"a": str("x")})},
		{fn: "tonumber", expr: `tonumber("42")`, want: num(42)},
		{fn: "tonumber", expr: `tonumber("forty")`, err: "cannot convert"},
		{fn: "toset", expr: `toset(["a", "a"])`, want: cty.SetVal([]cty.Value{str("a")})},
		{fn: "tostring", expr: `tostring(42)`, want: str("42")},
		{fn: "try", expr: `try(jsondecode("{}").kvs[0].value, "none")`, want: str("none")},

		// Encoding.
		{fn: "base64encode", expr: `base64encode("hello")`, want: str("aGVsbG8=")},
		{fn: "base64decode", expr: `base64decode("aGVsbG8=")`, want: str("hello")},
		{fn: "base64decode", expr: `base64decode("not base64!")`, err: "not valid base64"},
		{fn: "base64decode", expr: `base64decode("//4=")`, err: "not valid UTF-8"},
		{fn: "jsonencode", expr: `jsonencode({ key = "r", value = 3 })`, want: str(`{"key":"r","value":3}`)},
		{fn: "jsondecode", expr: `jsondecode("{\"a\": [1, 2]}").a[1]`, want: num(2)},
		{fn: "jsondecode", expr: `jsondecode("{")`, err: "jsondecode"},
		{fn: "csvdecode", expr: `csvdecode("name,port\nn1,2379")[0].port`, want: str("2379")},

		// Files. BaseDir is testdata.
		{fn: "file", expr: `file("etcd.conf")`, want: str("name = n1\nlisten = 0.0.0.0:2379\n")},
		{fn: "file", expr: `file("missing.conf")`, err: `no file "missing.conf"`},
		{fn: "file", expr: `file("binary.bin")`, err: "not UTF-8"},
		{fn: "file", expr: `file("etcd.conf")`, mode: validate, want: str("name = n1\nlisten = 0.0.0.0:2379\n")},
		{fn: "templatefile", expr: `templatefile("peers.tmpl", { peers = ["n1", "n2"] })`, want: str("initial-cluster: n1=http://n1:2380,n2=http://n2:2380\n")},
		{fn: "templatefile", expr: `templatefile("node.tmpl", { name = "n1", port = 2379 })`, want: str("node n1\nport 2379\n")},
		{fn: "templatefile", expr: `templatefile("funcs.tmpl", { name = "n1", peers = ["a", "b"] })`, want: str("N1 2")},
		{fn: "templatefile", expr: `templatefile("node.tmpl", { name = "n1" })`, err: `refers to "port", which vars does not define`},
		{fn: "templatefile", expr: `templatefile("missing.tmpl", {})`, err: `no file "missing.tmpl"`},
		{fn: "templatefile", expr: `templatefile("bad.tmpl", {})`, err: "bad.tmpl:1"},
		{fn: "templatefile", expr: `templatefile("node.tmpl", "n1")`, err: "vars must be an object or a map"},
		{fn: "templatefile", expr: `templatefile("list.tmpl", { peers = ["a"] })`, err: "which is not a string"},
		{fn: "templatefile", expr: `templatefile("recursive.tmpl", {})`, err: `"templatefile"`},
		{fn: "templatefile", expr: `templatefile("node.tmpl", unknown)`, mode: validate, want: cty.UnknownVal(cty.String)},
		{fn: "templatefile", expr: `templatefile("node.tmpl", { name = unknown_str, port = 1 })`, mode: validate, want: cty.UnknownVal(cty.String)},

		// Durations.
		{fn: "seconds", expr: `seconds("1m30s")`, want: num(90)},
		{fn: "seconds", expr: `seconds("20ms")`, want: cty.MustParseNumberVal("0.02")},
		{fn: "seconds", expr: `seconds(2.5)`, want: cty.MustParseNumberVal("2.5")},
		{fn: "seconds", expr: `seconds("-5s")`, want: num(-5)},
		{fn: "seconds", expr: `seconds("5")`, err: `write "5s"`},
		{fn: "seconds", expr: `seconds("soon")`, err: `invalid duration "soon"`},
		{fn: "seconds", expr: `seconds(true)`, err: "not a bool"},
		{fn: "seconds", expr: `seconds(unknown_str)`, mode: validate, want: cty.UnknownVal(cty.Number)},
		{fn: "milliseconds", expr: `milliseconds("1.5s")`, want: num(1500)},
		{fn: "milliseconds", expr: `milliseconds("250us")`, want: cty.MustParseNumberVal("0.25")},
		{fn: "milliseconds", expr: `milliseconds([])`, err: "not a tuple"},

		// Random values: exact values are covered by TestRandomDeterminism
		// and TestRandomDistributions; here the modes and argument checks.
		{fn: "random_int", expr: `random_int(3, 3)`, want: num(3)},
		{fn: "random_int", expr: `random_int(0, 4)`, mode: topLevel, err: "random_int can only be called where a value is generated for each operation (an operation's value)"},
		{fn: "random_int", expr: `random_int(0, 4)`, mode: validate, want: cty.UnknownVal(cty.Number)},
		{fn: "random_int", expr: `random_int(0, 4)`, mode: validateTop, err: "random_int can only be called where a value is generated"},
		{fn: "random_bool", expr: `random_bool()`, mode: validateTop, err: "random_bool can only be called"},
		{fn: "random_int", expr: `random_int(5, 1)`, mode: validate, err: "max (1) is less than min (5)"},
		{fn: "random_int", expr: `random_int(0.5, 1)`, err: "min must be a whole number"},
		{fn: "random_int", expr: `random_int("a", 1)`, err: "a number is required"},
		{fn: "random_int", expr: `random_int(1)`, err: "Not enough function arguments"},
		// Transaction generators: per op, the shape (kind, slot, null);
		// eval fills in keys and values (tested in txn and eval).
		{fn: "list_append_txn", expr: `length(list_append_txn({ min_length = 3, max_length = 3 }))`, want: num(3)},
		{fn: "list_append_txn", expr: `[for m in list_append_txn({ min_length = 6, max_length = 6, key_count = 1 }) : m[1]]`, want: cty.TupleVal([]cty.Value{num(0), num(0), num(0), num(0), num(0), num(0)})},
		{fn: "list_append_txn", expr: `list_append_txn()`, mode: validate, want: cty.DynamicVal},
		{fn: "list_append_txn", expr: `list_append_txn()`, mode: topLevel, err: "list_append_txn can only be called as an operation's value"},
		{fn: "list_append_txn", expr: `list_append_txn({ keys = 3 })`, mode: validate, err: `unknown option "keys"; expected one of key_count, key_dist`},
		{fn: "list_append_txn", expr: `list_append_txn({ min_length = 4, max_length = 2 })`, mode: validate, err: "max_length (2) is less than min_length (4)"},
		{fn: "list_append_txn", expr: `list_append_txn({ key_count = 1.5 })`, err: "option key_count must be a whole number, not 1.5"},
		{fn: "list_append_txn", expr: `list_append_txn({}, {})`, err: "at most one argument"},
		{fn: "rw_register_txn", expr: `sort(distinct([for m in rw_register_txn({ min_length = 40, max_length = 40 }) : m[0]]))`, want: cty.ListVal([]cty.Value{str("r"), str("w")})},
		{fn: "long_fork_txn", expr: `length(long_fork_txn())`, want: num(1)},
		{fn: "long_fork_txn", expr: `contains(["w", "r"], long_fork_txn({ group_size = 2 })[0][0])`, want: cty.True},
		{fn: "long_fork_txn", expr: `long_fork_txn()`, mode: validate, want: cty.DynamicVal},
		{fn: "long_fork_txn", expr: `long_fork_txn({ size = 2 })`, mode: validate, err: `unknown option "size"; expected group_size`},
		{fn: "long_fork_txn", expr: `long_fork_txn({ group_size = 0 })`, err: "group_size must be between 1 and 1024, not 0"},
		{fn: "long_fork_txn", expr: `long_fork_txn()`, mode: topLevel, err: "long_fork_txn can only be called as an operation's value"},
		{fn: "rw_register_txn", expr: `rw_register_txn({ key_dist = "zipf" })`, mode: validate, err: `key_dist must be "exponential" or "uniform", not "zipf"`},
		{fn: "random_float", expr: `random_float(2, 2)`, want: num(2)},
		{fn: "random_float", expr: `random_float(0, 1)`, mode: topLevel, err: "random_float can only be called"},
		{fn: "random_float", expr: `random_float(0, 1)`, mode: validate, want: cty.UnknownVal(cty.Number)},
		{fn: "random_float", expr: `random_float(1, 0)`, err: "max (0) is less than min (1)"},
		{fn: "random_choice", expr: `random_choice(["only"])`, want: str("only")},
		{fn: "random_choice", expr: `random_choice(toset(["only"]))`, want: str("only")},
		{fn: "random_choice", expr: `random_choice(["a", "b"])`, mode: validate, want: cty.UnknownVal(cty.String)},
		{fn: "random_choice", expr: `random_choice(["a", 1, true])`, mode: validate, want: cty.DynamicVal},
		{fn: "random_choice", expr: `random_choice([])`, mode: validate, err: "the list is empty"},
		{fn: "random_choice", expr: `random_choice("abc")`, err: "needs a list, tuple or set, not a string"},
		{fn: "random_choice", expr: `random_choice(["a"])`, mode: topLevel, err: "random_choice can only be called"},
		{fn: "random_string", expr: `length(random_string(12))`, want: num(12)},
		{fn: "random_string", expr: `random_string(0)`, want: str("")},
		{fn: "random_string", expr: `random_string(-1)`, err: "length must be between 0 and"},
		{fn: "random_string", expr: `random_string(8)`, mode: validate, want: cty.UnknownVal(cty.String)},
		{fn: "random_string", expr: `random_string(8)`, mode: topLevel, err: "random_string can only be called"},
		{fn: "random_bool", expr: `random_bool() || true`, want: cty.True},
		{fn: "random_bool", expr: `random_bool()`, mode: validate, want: cty.UnknownVal(cty.Bool)},
		{fn: "random_bool", expr: `random_bool()`, mode: topLevel, err: "random_bool can only be called"},
		{fn: "random_bool", expr: `random_bool(1)`, err: "Too many function arguments"},

		// Generators.
		{fn: "mix", expr: `mix([operation.read, operation.write])`, gen: `mix([operation.read, operation.write])`},
		{fn: "mix", expr: `mix([operation.read, [operation.write, operation.cas]])`, gen: `mix([operation.read, [operation.write, operation.cas]])`},
		{fn: "mix", expr: `mix([operation.read, "write"])`, err: "mix: element 2 is a string, not a generator (did you mean operation.write?)"},
		{fn: "mix", expr: `mix([operation.read, "partition.start"])`, err: "(did you mean fault.partition.start?)"},
		{fn: "mix", expr: `mix([operation.read, [operation.write, 3]])`, err: "mix: element 2 of element 2 is a number, not a generator"},
		{fn: "mix", expr: `mix(operation.read)`, err: "mix: takes a list of generators, like mix([operation.read, operation.write]), not a single generator"},
		{fn: "mix", expr: `mix([])`, err: "mix: the list of generators is empty"},
		{fn: "mix", expr: `mix({ a = operation.read })`, err: "not an object"},
		{fn: "mix", expr: `mix([operation.read, unknown_gen])`, mode: validate, want: cty.UnknownVal(GeneratorType)},
		{fn: "mix", expr: `mix([unknown_gen, "x"])`, mode: validate, err: "element 2 is a string"},
		{fn: "mix", expr: `mix(operation.read, operation.write)`, err: "Too many function arguments"},
		{fn: "stagger", expr: `stagger("20ms", operation.read)`, gen: `stagger("20ms", operation.read)`},
		{fn: "stagger", expr: `stagger(0.5, [operation.read, operation.write])`, gen: `stagger("500ms", [operation.read, operation.write])`},
		{fn: "stagger", expr: `stagger("-1s", operation.read)`, err: "stagger: duration: duration -1s is negative"},
		{fn: "stagger", expr: `stagger("0s", operation.read)`, err: "stagger: duration must be longer than zero"},
		{fn: "stagger", expr: `stagger("20ms", "read")`, err: "stagger: gen is a string, not a generator (did you mean operation.read?)"},
		{fn: "stagger", expr: `stagger(operation.read, "20ms")`, err: "stagger: duration: a duration is a string"},
		{fn: "stagger", expr: `stagger("20ms", [operation.read, "x y"])`, err: "stagger: element 2 of gen is a string, not a generator (write operation.<name>"},
		{fn: "stagger", expr: `stagger(unknown_str, operation.read)`, mode: validate, want: cty.UnknownVal(GeneratorType)},
		{fn: "stagger", expr: `stagger(unknown_str, "read")`, mode: validate, err: "gen is a string"},
		{fn: "stagger", expr: `stagger(true, unknown_gen)`, mode: validate, err: "not a bool"},
		{fn: "stagger", expr: `stagger("1s")`, err: "Not enough function arguments"},
		{fn: "delay", expr: `delay("100ms", operation.read)`, gen: `delay("100ms", operation.read)`},
		{fn: "delay", expr: `delay("fast", operation.read)`, err: `delay: duration: invalid duration "fast"`},
		{fn: "time_limit", expr: `time_limit("60s", stagger("20ms", mix([operation.read, operation.write])))`, gen: `time_limit("1m0s", stagger("20ms", mix([operation.read, operation.write])))`},
		{fn: "time_limit", expr: `time_limit(null, operation.read)`, err: "time_limit: duration: a duration is required, got null"},
		{fn: "time_limit", expr: `time_limit("1s", null)`, err: "time_limit: gen is null, not a generator"},
		{fn: "limit", expr: `limit(100, operation.write)`, gen: `limit(100, operation.write)`},
		{fn: "limit", expr: `limit(0, operation.write)`, err: "limit: count must be at least 1, not 0"},
		{fn: "limit", expr: `limit(1.5, operation.write)`, err: "limit: count must be a whole number, not 1.5"},
		{fn: "limit", expr: `limit("3", operation.write)`, err: "limit: count must be a whole number, not a string"},
		{fn: "limit", expr: `limit(1e12, operation.write)`, err: "limit: count is too large"},
		{fn: "limit", expr: `limit(unknown_num, operation.write)`, mode: validate, want: cty.UnknownVal(GeneratorType)},
		{fn: "once", expr: `once(operation.read)`, gen: `once(operation.read)`},
		{fn: "once", expr: `once(42)`, err: "once: gen is a number, not a generator"},
		{fn: "repeat", expr: `repeat(operation.read)`, gen: `repeat(operation.read)`},
		{fn: "repeat", expr: `repeat(3, operation.read)`, gen: `repeat(3, operation.read)`},
		{fn: "repeat", expr: `repeat(operation.read, 3)`, err: "repeat: count must be a whole number, not a generator"},
		{fn: "repeat", expr: `repeat(3, operation.read, operation.write)`, err: "repeat: takes at most 2 arguments: repeat(gen) or repeat(count, gen)"},
		{fn: "repeat", expr: `repeat(-2, operation.read)`, err: "repeat: count must be at least 1, not -2"},
		{fn: "cycle", expr: `cycle([sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop])`, gen: `cycle([sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop])`},
		{fn: "cycle", expr: `cycle(2, [fault.crash.start, [fault.crash.stop]])`, gen: `cycle(2, [fault.crash.start, fault.crash.stop])`},
		{fn: "cycle", expr: `cycle(toset([operation.read]))`, err: "cycle: gen is a set"},
		{fn: "phases", expr: `phases(operation.write, operation.read)`, gen: `phases(operation.write, operation.read)`},
		{fn: "phases", expr: `phases(operation.write, "read")`, err: "phases: argument 2 is a string"},
		{fn: "phases", expr: `phases()`, err: "Not enough function arguments"},
		{fn: "sleep", expr: `sleep("5s")`, gen: `sleep("5s")`},
		{fn: "sleep", expr: `sleep(0)`, gen: `sleep("0s")`},
		{fn: "sleep", expr: `sleep("-5s")`, err: "sleep: duration: duration -5s is negative"},
		{fn: "log", expr: `log("healing ${"$"}{x}")`, gen: `log("healing $${x}")`},
		{fn: "log", expr: `log(42)`, gen: `log("42")`},
		{fn: "log", expr: `log([])`, err: "log: message must be a string, not a tuple"},
		{fn: "log", expr: `log(unknown_str)`, mode: validate, want: cty.UnknownVal(GeneratorType)},
		{fn: "any", expr: `any(clients(operation.read), nemesis(fault.crash.start))`, gen: `any(clients(operation.read), nemesis(fault.crash.start))`},
		{fn: "any", expr: `any(operation.read, 1)`, err: "any: argument 2 is a number"},
		{fn: "each_thread", expr: `each_thread(once(operation.read))`, gen: `each_thread(once(operation.read))`},
		{fn: "reserve", expr: `reserve(2, operation.write, 1, operation.cas, operation.read)`, gen: `reserve(2, operation.write, 1, operation.cas, operation.read)`},
		{fn: "reserve", expr: `reserve(2, operation.write)`, err: "reserve: takes pairs of a thread count and a generator"},
		{fn: "reserve", expr: `reserve(2, operation.write, 3, operation.read)`, err: "got 4 arguments"},
		{fn: "reserve", expr: `reserve(operation.write, 2, operation.read)`, err: "reserve: argument 1 (a thread count) must be a whole number, not a generator"},
		{fn: "reserve", expr: `reserve(0, operation.write, operation.read)`, err: "at least 1"},
		{fn: "reserve", expr: `reserve(2, operation.write, "read")`, err: "argument 3 (the default generator) is a string"},
		{fn: "until_ok", expr: `until_ok(repeat(operation.read))`, gen: `until_ok(repeat(operation.read))`},
		{fn: "flip_flop", expr: `flip_flop(fault.partition.start, fault.partition.stop)`, gen: `flip_flop(fault.partition.start, fault.partition.stop)`},
		{fn: "flip_flop", expr: `flip_flop(fault.partition.start)`, err: "Not enough function arguments"},
		{fn: "flip_flop", expr: `flip_flop(fault.partition, fault.crash.stop)`, err: "flip_flop: a is an object, not a generator"},
		{fn: "clients", expr: `clients(stagger("10ms", operation.read))`, gen: `clients(stagger("10ms", operation.read))`},
		{fn: "nemesis", expr: `nemesis([fault.crash.start, fault.crash.stop])`, gen: `nemesis([fault.crash.start, fault.crash.stop])`},
		{fn: "nemesis", expr: `nemesis(unknown)`, mode: validate, want: cty.UnknownVal(GeneratorType)},
		{fn: "synchronize", expr: `synchronize(each_thread(once(operation.read)))`, gen: `synchronize(each_thread(once(operation.read)))`},
	}
}

func TestFunctions(t *testing.T) {
	for _, c := range functionCases() {
		t.Run(c.expr, func(t *testing.T) {
			v, err := evalIn(scopeFor(c.mode), c.expr)
			if c.err != "" {
				if err == nil {
					t.Fatalf("got %#v, want an error containing %q", v, c.err)
				}
				if !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %q does not contain %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.gen != "" {
				g, err := ToGenerator(v)
				if err != nil {
					t.Fatalf("result %#v is not a generator: %v", v, err)
				}
				if got := g.String(); got != c.gen {
					t.Fatalf("generator %s, want %s", got, c.gen)
				}
				return
			}
			if !c.want.IsKnown() {
				// Refinements (not null, bounds) are cty's business; the
				// contract here is "unknown, of this type".
				if v.IsKnown() || !v.Type().Equals(c.want.Type()) {
					t.Fatalf("got %#v, want an unknown %s", v, c.want.Type().FriendlyName())
				}
				return
			}
			if !v.RawEquals(c.want) {
				t.Fatalf("got %#v, want %#v", v, c.want)
			}
		})
	}
}

// TestEveryFunctionTested fails when a function is added without a test
// case, or a case names a function that does not exist.
func TestEveryFunctionTested(t *testing.T) {
	tested := map[string]bool{}
	for _, c := range functionCases() {
		if !strings.Contains(c.expr, c.fn+"(") {
			t.Errorf("case %q is filed under %s but does not call it", c.expr, c.fn)
		}
		tested[c.fn] = true
	}
	fns := Functions(Scope{})
	for name := range fns {
		if !tested[name] {
			t.Errorf("function %s has no test case in functionCases", name)
		}
	}
	for name := range tested {
		if _, ok := fns[name]; !ok {
			t.Errorf("test cases name %s, which Functions does not provide", name)
		}
	}
}

// TestEveryFunctionDocumented fails when a function lacks documentation or
// documentation describes a function that does not exist.
func TestEveryFunctionDocumented(t *testing.T) {
	fns := Functions(Scope{})
	seen := map[string]bool{}
	seenIn := map[[2]string]bool{}
	for _, d := range Docs() {
		// A name may appear once per category: log is both a number
		// function and a generator.
		if seenIn[[2]string{d.Name, d.Category}] {
			t.Errorf("%s is documented twice in %s", d.Name, d.Category)
		}
		seenIn[[2]string{d.Name, d.Category}] = true
		seen[d.Name] = true
		if _, ok := fns[d.Name]; !ok {
			t.Errorf("Doc for %s, which Functions does not provide", d.Name)
		}
		if strings.TrimSpace(d.Description) == "" || strings.TrimSpace(d.Example) == "" {
			t.Errorf("%s: empty description or example", d.Name)
		}
		if !strings.HasPrefix(d.Signature, d.Name+"(") {
			t.Errorf("%s: signature %q does not start with %s(", d.Name, d.Signature, d.Name)
		}
		if !strings.Contains(d.Example, d.Name+"(") {
			t.Errorf("%s: example %q does not call it", d.Name, d.Example)
		}
		if !slices.Contains(Categories, d.Category) {
			t.Errorf("%s: category %q is not in Categories", d.Name, d.Category)
		}
	}
	for name := range fns {
		if !seen[name] {
			t.Errorf("function %s has no Doc", name)
		}
	}
}

// TestExamples evaluates every documented example per operation (values
// known) and under validation (random values unknown, nothing fails).
func TestExamples(t *testing.T) {
	for _, d := range Docs() {
		t.Run(d.Name, func(t *testing.T) {
			v, err := evalIn(scopeFor(perOp), d.Example)
			if err != nil {
				t.Fatalf("example %s: %v", d.Example, err)
			}
			if !v.IsWhollyKnown() {
				t.Errorf("example %s is not known per operation: %#v", d.Example, v)
			}
			if d.Category == CategoryGenerator {
				if _, err := ToGenerator(v); err != nil {
					t.Errorf("example %s: %v", d.Example, err)
				}
			}
			v, err = evalIn(scopeFor(validate), d.Example)
			if err != nil {
				t.Fatalf("example %s under validation: %v", d.Example, err)
			}
			if d.Category == CategoryRandom && v.IsKnown() {
				t.Errorf("example %s is known under validation: %#v", d.Example, v)
			}
		})
	}
}
