package builtins

import (
	"encoding/base64"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

var base64EncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

var base64DecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := base64.StdEncoding.DecodeString(args[0].AsString())
		if err != nil {
			return cty.NilVal, function.NewArgErrorf(0, "not valid base64: %s", err)
		}
		// cty strings are Unicode text; binary data cannot be represented,
		// so say so rather than mangle it.
		if !utf8.Valid(b) {
			return cty.NilVal, function.NewArgErrorf(0, "the decoded bytes are not valid UTF-8 text (%d bytes)", len(b))
		}
		return cty.StringVal(string(b)), nil
	},
})

func encodingEntries() []entry {
	return []entry{
		{Doc{
			Name: "base64encode", Category: CategoryEncoding,
			Signature:   "base64encode(str)",
			Description: "Encodes the UTF-8 bytes of a string in standard base64 (with padding), as etcd's JSON gateway expects for keys and values.",
			Example:     `base64encode("hello")`,
		}, static(base64EncodeFunc)},
		{Doc{
			Name: "base64decode", Category: CategoryEncoding,
			Signature:   "base64decode(str)",
			Description: "Decodes standard base64 into a string. Fails when the input is not base64 or the decoded bytes are not UTF-8 text.",
			Example:     `base64decode("aGVsbG8=")`,
		}, static(base64DecodeFunc)},
		{Doc{
			Name: "jsonencode", Category: CategoryEncoding,
			Signature: "jsonencode(value)",
			Description: "Renders any value as compact JSON: objects and maps become JSON objects with sorted keys, " +
				"lists, tuples and sets become arrays, null becomes null. Use it to build request bodies.",
			Example: `jsonencode({ key = "r", value = 3 })`,
		}, static(stdlib.JSONEncodeFunc)},
		{Doc{
			Name: "jsondecode", Category: CategoryEncoding,
			Signature: "jsondecode(str)",
			Description: "Parses a JSON document into a value: objects become objects, arrays become tuples, " +
				"numbers keep their full precision. Fails on invalid JSON.",
			Example: `jsondecode("{\"kvs\": [{\"value\": \"NA==\"}]}").kvs[0].value`,
		}, static(stdlib.JSONDecodeFunc)},
		{Doc{
			Name: "csvdecode", Category: CategoryEncoding,
			Signature: "csvdecode(str)",
			Description: "Parses CSV text whose first line names the columns into a list of objects, one per " +
				"following line, with string values. Every line must have as many fields as the header.",
			Example: `csvdecode("name,port\nn1,2379\nn2,2379")`,
		}, static(stdlib.CSVDecodeFunc)},
	}
}
