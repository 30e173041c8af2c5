package builtins

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/jplan/jplan/txn"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// TxnFunctions names the transaction generators. They are only meaningful
// as the whole of an operation's value: eval recognises the call there and
// turns each op's drawn shape into micro-ops when the op is invoked (see
// package txn), so keys rotate and values stay unique per key.
var TxnFunctions = map[string]txn.Kind{
	"list_append_txn": txn.Append,
	"rw_register_txn": txn.Write,
	"long_fork_txn":   txn.Write,
}

// TxnFiller is a transaction generator's state, shared by every op of one
// operation: it fixes an op's keys and values when the op is invoked.
type TxnFiller interface {
	// Shape draws an op's shape from its seeded source.
	Shape(r *rand.Rand) []txn.SlotMop
	// Fill fixes the shape's keys and values, at invocation.
	Fill(shape []txn.SlotMop, seed uint64) []txn.Mop
}

// NewTxnFiller builds the state for a call of the transaction generator
// name with options v (null: the defaults).
func NewTxnFiller(name string, v cty.Value) (TxnFiller, error) {
	if name == "long_fork_txn" {
		n, err := longForkGroup(v)
		if err != nil {
			return nil, err
		}
		return txn.NewLongFork(n)
	}
	write, ok := TxnFunctions[name]
	if !ok {
		return nil, fmt.Errorf("%s is not a transaction generator", name)
	}
	o, err := TxnOptions(write, v)
	if err != nil {
		return nil, err
	}
	return txn.NewPool(o), nil
}

// longForkGroup reads long_fork_txn's options: { group_size = n }, 3 by
// default.
func longForkGroup(v cty.Value) (int, error) {
	n := 3
	err := eachOption(v, "{ group_size = 3 }", []string{"group_size"}, func(_ string, e cty.Value) (err error) {
		n, err = txnInt("group_size", e)
		return err
	})
	if err != nil {
		return 0, err
	}
	if n < 1 || n > 1024 {
		return 0, fmt.Errorf("group_size must be between 1 and 1024, not %d", n)
	}
	return n, nil
}

// eachOption calls set for each known, non-null attribute of an options
// object (null: none), after checking its name is one of names.
func eachOption(v cty.Value, example string, names []string, set func(name string, e cty.Value) error) error {
	if v.IsNull() {
		return nil
	}
	if ty := v.Type(); !ty.IsObjectType() && !ty.IsMapType() {
		return fmt.Errorf("options must be an object such as %s, not %s", example, ty.FriendlyName())
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if !slices.Contains(names, name) {
			if len(names) == 1 {
				return fmt.Errorf("unknown option %q; expected %s", name, names[0])
			}
			return fmt.Errorf("unknown option %q; expected one of %s", name, strings.Join(names, ", "))
		}
		if !e.IsKnown() {
			continue
		}
		if e.IsNull() {
			return fmt.Errorf("option %s is null", name)
		}
		if err := set(name, e); err != nil {
			return err
		}
	}
	return nil
}

// txnOptionNames are the attributes a transaction generator's options
// object may have (documented in the functions' descriptions).
var txnOptionNames = []string{"key_count", "key_dist", "key_dist_base", "max_length", "max_writes_per_key", "min_length"}

// TxnOptions reads a transaction generator's options object (null: all
// defaults) into generator options with Elle's defaults filled in.
func TxnOptions(write txn.Kind, v cty.Value) (txn.GenOptions, error) {
	o := txn.GenOptions{Write: write}
	err := eachOption(v, "{ key_count = 10 }", txnOptionNames, func(name string, e cty.Value) (err error) {
		switch name {
		case "key_dist":
			if e.Type() != cty.String {
				return fmt.Errorf("option key_dist must be a string")
			}
			o.KeyDist = txn.KeyDist(e.AsString())
		case "key_dist_base":
			if e.Type() != cty.Number {
				return fmt.Errorf("option key_dist_base must be a number")
			}
			o.KeyDistBase, _ = e.AsBigFloat().Float64()
		case "key_count":
			o.KeyCount, err = txnInt(name, e)
		case "min_length":
			o.MinLength, err = txnInt(name, e)
		case "max_length":
			o.MaxLength, err = txnInt(name, e)
		case "max_writes_per_key":
			o.MaxWritesPerKey, err = txnInt(name, e)
		}
		return err
	})
	if err != nil {
		return o, err
	}
	o = o.Defaults()
	return o, o.Check()
}

func txnInt(name string, v cty.Value) (int, error) {
	if v.Type() != cty.Number {
		return 0, fmt.Errorf("option %s must be a whole number", name)
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < -1<<31 || i > 1<<31 {
		return 0, fmt.Errorf("option %s must be a whole number, not %s", name, bf.Text('g', -1))
	}
	return int(i), nil
}

func txnEntries() []entry {
	doc := func(name, what, write, example string) Doc {
		return Doc{
			Name: name, Category: CategoryRandom,
			Signature: name + "(options)",
			Description: "Generates " + what + " transactions the way Elle's generator does, for the " +
				"`txn` operation of a plan: each op's value is a list of micro-ops `[\"" + write + "\", key, value]` " +
				"and `[\"r\", key, null]` (the client fills in what the read saw). Keys come from a pool of " +
				"`key_count` active keys (default 10; 3 with `key_dist = \"uniform\"`), picked with an exponential bias " +
				"(`key_dist_base`, default 2) so some are hot; each transaction has `min_length` to `max_length` " +
				"micro-ops (default 1 to 4), reads and writes equally likely; a write takes its key's next value " +
				"(1, 2, 3...), so values are unique per key; a key that has taken its share of writes (at most " +
				"`max_writes_per_key`, default 256) is replaced by a fresh one. options is an object of those " +
				"attributes, or omitted. Only valid as the whole of an operation's value: keys and values are fixed " +
				"when the op is invoked, in invocation order, so the same seed gives the same sequence of " +
				"transactions. Evaluated elsewhere it returns the transaction's shape (key slots, no values).",
			Example: example,
		}
	}
	return []entry{
		{Doc{
			Name: "long_fork_txn", Category: CategoryRandom,
			Signature: "long_fork_txn(options)",
			Description: "Generates Jepsen's long-fork workload for the `txn` operation of a plan: each op is either " +
				"a write of a fresh key, `[[\"w\", k, 1]]` (keys 0, 1, 2... in order, each written once), or a read of " +
				"every key of one group of `group_size` consecutive keys (default 3), in random order, " +
				"`[[\"r\", k1, null], [\"r\", k2, null], ...]`, picking one of the three groups most recently written " +
				"to. Check it with `checker \"long-fork\"`. options is `{ group_size = n }`, or omitted. Like " +
				"list_append_txn, only valid as the whole of an operation's value; keys are fixed when the op is invoked.",
			Example: `long_fork_txn({ group_size = 2 })`,
		}, func(s Scope) function.Function { return txnFunc(s, "long_fork_txn") }},
		{doc("list_append_txn", "list-append", "append", `list_append_txn({ key_count = 5, max_length = 8 })`),
			func(s Scope) function.Function { return txnFunc(s, "list_append_txn") }},
		{doc("rw_register_txn", "rw-register", "w", `rw_register_txn({ max_writes_per_key = 32 })`),
			func(s Scope) function.Function { return txnFunc(s, "rw_register_txn") }},
	}
}

// txnFunc draws one op's shape from the generator's options:
// ["append"|"w"|"r", slot, null] per micro-op. eval replaces slots with
// keys and fills in write values when the op is invoked.
func txnFunc(s Scope, name string) function.Function {
	write := TxnFunctions[name].String()
	return function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "options", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true},
		Type:     function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 1 {
				return cty.NilVal, fmt.Errorf("%s takes at most one argument, an options object", name)
			}
			opt := cty.NullVal(cty.DynamicPseudoType)
			if len(args) == 1 {
				opt = args[0]
			}
			gen, err := NewTxnFiller(name, opt)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if s.NoRandom || (s.Rand == nil && !s.Validate) {
				return cty.NilVal, fmt.Errorf("%s can only be called as an operation's value", name)
			}
			if s.Validate {
				return cty.DynamicVal, nil
			}
			shape := gen.Shape(s.Rand)
			mops := make([]cty.Value, len(shape))
			for i, m := range shape {
				f := "r"
				if m.Write {
					f = write
				}
				mops[i] = cty.TupleVal([]cty.Value{cty.StringVal(f), cty.NumberIntVal(int64(m.Slot)), cty.NullVal(cty.DynamicPseudoType)})
			}
			return cty.TupleVal(mops), nil
		},
	})
}
