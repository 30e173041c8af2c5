package builtins

import (
	"strings"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// stringPredicate builds a (str, other) -> bool function such as startswith.
func stringPredicate(second string, pred func(s, t string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: second, Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(pred(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// replaceFunc follows Terraform: a substring written between slashes is a
// regular expression, anything else is replaced literally.
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "substr", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		sub := args[1].AsString()
		if len(sub) > 1 && strings.HasPrefix(sub, "/") && strings.HasSuffix(sub, "/") {
			re := cty.StringVal(sub[1 : len(sub)-1])
			return stdlib.RegexReplaceFunc.Call([]cty.Value{args[0], re, args[2]})
		}
		return stdlib.ReplaceFunc.Call(args)
	},
})

// lengthFunc extends cty's length (collections only) to strings, counting
// characters as a reader sees them, and to objects, counting attributes, as
// Terraform's length does.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{
		Name:             "value",
		Type:             cty.DynamicPseudoType,
		AllowDynamicType: true,
		AllowUnknown:     true,
		AllowMarked:      true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if ty := args[0].Type(); ty == cty.String || ty.IsObjectType() {
			return cty.Number, nil
		}
		return stdlib.LengthFunc.ReturnTypeForValues(args)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		switch ty := args[0].Type(); {
		case ty == cty.String:
			return stdlib.StrlenFunc.Call(args)
		case ty.IsObjectType():
			// The attributes are fixed by the type, so the length is known
			// even when the value is not.
			return cty.NumberIntVal(int64(len(ty.AttributeTypes()))), nil
		}
		return stdlib.LengthFunc.Call(args)
	},
})

func stdlibEntries() []entry {
	type row struct {
		name, cat, sig, desc, example string
		fn                            function.Function
	}
	rows := []row{
		// Numbers.
		{"abs", CategoryNumeric, "abs(num)", "Returns the magnitude of a number: negative numbers lose their sign.", `abs(-3)`, stdlib.AbsoluteFunc},
		{"ceil", CategoryNumeric, "ceil(num)", "Rounds a number up to the nearest whole number.", `ceil(4.2)`, stdlib.CeilFunc},
		{"floor", CategoryNumeric, "floor(num)", "Rounds a number down to the nearest whole number.", `floor(4.8)`, stdlib.FloorFunc},
		{"log", CategoryNumeric, "log(num, base)", "Returns the logarithm of num in the given base. (With one argument, log(message) is the generator that writes to the test's log; see Generators.)", `log(1024, 2)`, logFunc},
		{"max", CategoryNumeric, "max(num, ...)", "Returns the largest of one or more numbers; expand a list with max(list...).", `max(3, 9, 4)`, stdlib.MaxFunc},
		{"min", CategoryNumeric, "min(num, ...)", "Returns the smallest of one or more numbers; expand a list with min(list...).", `min(3, 9, 4)`, stdlib.MinFunc},
		{"parseint", CategoryNumeric, "parseint(str, base)", "Reads a whole number written in base 2 to 62 (for instance a hexadecimal revision). Fails when the string has characters outside the base.", `parseint("ff", 16)`, stdlib.ParseIntFunc},
		{"pow", CategoryNumeric, "pow(num, power)", "Raises num to the given power.", `pow(2, 10)`, stdlib.PowFunc},
		{"signum", CategoryNumeric, "signum(num)", "Returns -1, 0 or 1 as the number is negative, zero or positive.", `signum(-7)`, stdlib.SignumFunc},

		// Strings.
		{"chomp", CategoryString, "chomp(str)", "Drops the line endings (\\n or \\r\\n) at the end of a string, such as a command's trailing newline.", `chomp("leader\n")`, stdlib.ChompFunc},
		{"endswith", CategoryString, "endswith(str, suffix)", "Tells whether a string ends with the given suffix.", `endswith("etcd.log", ".log")`, stringPredicate("suffix", strings.HasSuffix)},
		{"format", CategoryString, "format(spec, values...)", "Builds a string from a printf-style spec: %d and %f for numbers, %s for strings, %q for quoted strings, %v for any value, %% for a percent sign.", `format("%s:%d", "n1", 2379)`, stdlib.FormatFunc},
		{"formatlist", CategoryString, "formatlist(spec, values...)", "Like format, but any list argument makes it produce a list, formatting element i of every list together; lists must have equal lengths, and plain values repeat.", `formatlist("%s:2380", ["n1", "n2"])`, stdlib.FormatListFunc},
		{"indent", CategoryString, "indent(spaces, str)", "Prefixes every line but the first with the given number of spaces, for embedding a multi-line string in an indented file.", `indent(2, "a:\nb: 1")`, stdlib.IndentFunc},
		{"join", CategoryString, "join(separator, list, ...)", "Concatenates the strings of one or more lists, with the separator between consecutive strings.", `join(",", ["n1", "n2", "n3"])`, stdlib.JoinFunc},
		{"lower", CategoryString, "lower(str)", "Converts every letter of a string to lower case.", `lower("LEADER")`, stdlib.LowerFunc},
		{"regex", CategoryString, "regex(pattern, str)", "Finds the first match of a regular expression (Go RE2 syntax) in a string. Without capture groups it returns the matched text; with unnamed groups, a list of their texts; with named groups, an object. Fails when nothing matches; wrap it in try or can to test.", `regex("term=(\\d+)", "leader n1 term=7")[0]`, stdlib.RegexFunc},
		{"regexall", CategoryString, "regexall(pattern, str)", "Finds every non-overlapping match of a regular expression in a string and returns a list of them, shaped as regex shapes one match; an empty list when nothing matches.", `regexall("n\\d", "n1,n2,n3")`, stdlib.RegexAllFunc},
		{"replace", CategoryString, "replace(str, substr, replacement)", "Replaces every occurrence of substr in str. When substr is written between slashes (\"/[0-9]+/\") it is a regular expression and the replacement may refer to groups as $1 or ${name}.", `replace("n1.example.org", ".example.org", "")`, replaceFunc},
		{"split", CategoryString, "split(separator, str)", "Cuts a string at every occurrence of the separator and returns the pieces as a list.", `split(",", "n1,n2,n3")`, stdlib.SplitFunc},
		{"startswith", CategoryString, "startswith(str, prefix)", "Tells whether a string begins with the given prefix.", `startswith("http://n1:2379", "http://")`, stringPredicate("prefix", strings.HasPrefix)},
		{"strcontains", CategoryString, "strcontains(str, substr)", "Tells whether substr occurs anywhere in str.", `strcontains("etcdserver: request timed out", "timed out")`, stringPredicate("substr", strings.Contains)},
		{"strrev", CategoryString, "strrev(str)", "Reverses a string character by character (combining marks stay with their letter).", `strrev("abc")`, stdlib.ReverseFunc},
		{"substr", CategoryString, "substr(str, offset, length)", "Extracts length characters starting at offset (counted in characters, not bytes). A negative offset counts from the end; a length of -1 takes the rest.", `substr("etcd-v3.5.17", 6, -1)`, stdlib.SubstrFunc},
		{"title", CategoryString, "title(str)", "Capitalizes the first letter of every word.", `title("read write")`, stdlib.TitleFunc},
		{"trim", CategoryString, "trim(str, chars)", "Removes from both ends of a string every character that appears in chars.", `trim("--n1--", "-")`, stdlib.TrimFunc},
		{"trimprefix", CategoryString, "trimprefix(str, prefix)", "Removes prefix from the start of a string, once, if present.", `trimprefix("http://n1", "http://")`, stdlib.TrimPrefixFunc},
		{"trimspace", CategoryString, "trimspace(str)", "Removes whitespace (spaces, tabs, newlines) from both ends of a string.", `trimspace("  42\n")`, stdlib.TrimSpaceFunc},
		{"trimsuffix", CategoryString, "trimsuffix(str, suffix)", "Removes suffix from the end of a string, once, if present.", `trimsuffix("etcd.log", ".log")`, stdlib.TrimSuffixFunc},
		{"upper", CategoryString, "upper(str)", "Converts every letter of a string to upper case.", `upper("ok")`, stdlib.UpperFunc},

		// Collections.
		{"chunklist", CategoryCollection, "chunklist(list, size)", "Splits a list into consecutive lists of at most size elements; the last may be shorter.", `chunklist(["n1", "n2", "n3", "n4", "n5"], 2)`, stdlib.ChunklistFunc},
		{"coalesce", CategoryCollection, "coalesce(value, ...)", "Returns the first argument that is not null (an empty string counts as a value); all arguments must convert to one type.", `coalesce(null, "default")`, stdlib.CoalesceFunc},
		{"coalescelist", CategoryCollection, "coalescelist(list, ...)", "Returns the first of its list arguments that is not empty.", `coalescelist([], ["n1"])`, stdlib.CoalesceListFunc},
		{"compact", CategoryCollection, "compact(list)", "Drops the null and empty-string elements of a list of strings.", `compact(["n1", "", "n3"])`, stdlib.CompactFunc},
		{"concat", CategoryCollection, "concat(list, ...)", "Joins lists end to end into one list.", `concat(["n1", "n2"], ["n3"])`, stdlib.ConcatFunc},
		{"contains", CategoryCollection, "contains(list, value)", "Tells whether a list, tuple or set has an element equal to value.", `contains(["ok", "fail"], "ok")`, stdlib.ContainsFunc},
		{"distinct", CategoryCollection, "distinct(list)", "Removes repeated elements from a list, keeping the first occurrence of each.", `distinct([1, 2, 1, 3])`, stdlib.DistinctFunc},
		{"element", CategoryCollection, "element(list, index)", "Returns the element at index, wrapping around past the end (index modulo the length), so it can cycle through a list.", `element(["n1", "n2", "n3"], 4)`, stdlib.ElementFunc},
		{"flatten", CategoryCollection, "flatten(list)", "Replaces every element that is itself a list with that list's elements, recursively, giving one flat list.", `flatten([["n1", "n2"], ["n3"], []])`, stdlib.FlattenFunc},
		{"keys", CategoryCollection, "keys(map)", "Returns the keys of a map or object, sorted.", `keys({ n2 = 1, n1 = 2 })`, stdlib.KeysFunc},
		{"length", CategoryCollection, "length(value)", "Counts the elements of a list, tuple, set or map, the attributes of an object, or the characters of a string.", `length(["n1", "n2", "n3"])`, lengthFunc},
		{"lookup", CategoryCollection, "lookup(map, key, default)", "Returns the element of a map or object with the given key, or default when there is none.", `lookup({ n1 = "leader" }, "n2", "follower")`, stdlib.LookupFunc},
		{"merge", CategoryCollection, "merge(map, ...)", "Combines maps or objects into one; where several have the same key, the last one wins.", `merge({ timeout = "1s", retries = 3 }, { timeout = "5s" })`, stdlib.MergeFunc},
		{"range", CategoryCollection, "range(limit) | range(start, limit) | range(start, limit, step)", "Returns the numbers from start (default 0) up to but excluding limit, stepping by step (default 1, or -1 when limit is below start).", `range(1, 6)`, stdlib.RangeFunc},
		{"reverse", CategoryCollection, "reverse(list)", "Returns a list's elements in the opposite order.", `reverse(["n1", "n2", "n3"])`, stdlib.ReverseListFunc},
		{"setintersection", CategoryCollection, "setintersection(set, ...)", "Returns the set of elements present in every argument.", `setintersection(["n1", "n2"], ["n2", "n3"])`, stdlib.SetIntersectionFunc},
		{"setproduct", CategoryCollection, "setproduct(list, ...)", "Returns every combination that takes one element from each argument, as a list of lists (a set when given sets).", `setproduct(["n1", "n2"], ["read", "write"])`, stdlib.SetProductFunc},
		{"setunion", CategoryCollection, "setunion(set, ...)", "Returns the set of elements present in at least one argument.", `setunion(["n1", "n2"], ["n2", "n3"])`, stdlib.SetUnionFunc},
		{"slice", CategoryCollection, "slice(list, start, end)", "Returns the elements from index start up to but excluding end.", `slice(["n1", "n2", "n3", "n4"], 1, 3)`, stdlib.SliceFunc},
		{"sort", CategoryCollection, "sort(list)", "Sorts a list of strings in lexical (byte) order; numbers sort as strings, so \"10\" comes before \"9\".", `sort(["n3", "n1", "n2"])`, stdlib.SortFunc},
		{"values", CategoryCollection, "values(map)", "Returns the values of a map or object, in the order of their sorted keys.", `values({ n2 = "follower", n1 = "leader" })`, stdlib.ValuesFunc},
		{"zipmap", CategoryCollection, "zipmap(keys, values)", "Builds a map from a list of keys and a list of values of the same length, pairing them by position.", `zipmap(["n1", "n2"], ["10.0.0.1", "10.0.0.2"])`, stdlib.ZipmapFunc},

		// Conversion and error handling.
		{"can", CategoryConversion, "can(expr)", "Evaluates an expression and tells whether it succeeded, without failing: true when it produced a value, false on an error.", `can(regex("^n[0-9]+$", "n12"))`, tryfunc.CanFunc},
		{"tobool", CategoryConversion, "tobool(value)", "Converts \"true\" or \"false\" (or a bool) to a bool; null stays null.", `tobool("true")`, stdlib.MakeToFunc(cty.Bool)},
		{"tolist", CategoryConversion, "tolist(value)", "Converts a tuple or set to a list; all elements must convert to one type.", `tolist(["a", "b"])`, stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType))},
		{"tomap", CategoryConversion, "tomap(value)", "Converts an object to a map; all values must convert to one type.", `tomap({ n1 = "leader", n2 = "follower" })`, stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType))},
		{"tonumber", CategoryConversion, "tonumber(value)", "Converts a string holding a number (or a number) to a number; fails on any other string.", `tonumber("42")`, stdlib.MakeToFunc(cty.Number)},
		{"toset", CategoryConversion, "toset(value)", "Converts a list or tuple to a set, dropping duplicates and the order.", `toset(["n1", "n2", "n1"])`, stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType))},
		{"tostring", CategoryConversion, "tostring(value)", "Converts a number or bool (or a string) to a string.", `tostring(42)`, stdlib.MakeToFunc(cty.String)},
		{"try", CategoryConversion, "try(expr, ...)", "Evaluates its arguments in order and returns the first that succeeds, for reading optional parts of a response: try(response.json.kvs[0].value, null).", `try(jsondecode("{}").kvs[0].value, null)`, tryfunc.TryFunc},
	}
	entries := make([]entry, len(rows))
	for i, r := range rows {
		entries[i] = entry{
			doc:  Doc{Name: r.name, Category: r.cat, Signature: r.sig, Description: r.desc, Example: r.example},
			make: static(r.fn),
		}
	}
	return entries
}
