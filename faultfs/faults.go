package faultfs

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
)

// Behaviours dm-flakey-like faults switch on. Each applies to an operation
// with a probability and to paths under a prefix.
const (
	// DropWrites reports writes as done and stores nothing.
	DropWrites = "drop-writes"
	// ErrorWrites fails writes (and fsyncs) with EIO.
	ErrorWrites = "error-writes"
	// ErrorReads fails reads with EIO.
	ErrorReads = "error-reads"
	// CorruptReads flips a byte of the data a read returns.
	CorruptReads = "corrupt-reads"
	// CorruptWrites flips a byte of the data a write stores.
	CorruptWrites = "corrupt-writes"
	// TornWrites stores only a prefix of a write and fails it with EIO;
	// while it is on, a loss also keeps a random prefix of the pending
	// writes instead of none.
	TornWrites = "torn-writes"
)

// Modes lists the behaviours; "corrupt" is accepted as both corrupt modes.
var Modes = []string{DropWrites, ErrorWrites, ErrorReads, CorruptReads, CorruptWrites, TornWrites}

// Rule is one behaviour switched on.
type Rule struct {
	// Prob is the fraction of operations affected, in (0, 1].
	Prob float64 `json:"probability"`
	// Prefix limits the behaviour to paths (relative to the mount, no
	// leading slash) that start with it; empty means every file.
	Prefix string `json:"prefix,omitempty"`
}

// expandMode maps a mode name to the behaviours it switches.
func expandMode(mode string) ([]string, error) {
	if mode == "corrupt" {
		return []string{CorruptReads, CorruptWrites}, nil
	}
	for _, m := range Modes {
		if m == mode {
			return []string{m}, nil
		}
	}
	return nil, fmt.Errorf("unknown mode %q (want one of %s, corrupt)", mode, strings.Join(Modes, ", "))
}

type faults struct {
	mu    sync.Mutex
	rules map[string]Rule
	rng   *rand.Rand
}

func newFaults(seed uint64) *faults {
	return &faults{rules: map[string]Rule{}, rng: rand.New(rand.NewPCG(seed, seed^0x6661756c74667321))}
}

func (f *faults) set(mode string, r Rule) error {
	ms, err := expandMode(mode)
	if err != nil {
		return err
	}
	if r.Prob <= 0 || r.Prob > 1 {
		return fmt.Errorf("probability %g is not in (0, 1]", r.Prob)
	}
	r.Prefix = strings.TrimPrefix(r.Prefix, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range ms {
		f.rules[m] = r
	}
	return nil
}

// clearMode switches a behaviour off; "" or "all" switches all off.
func (f *faults) clearMode(mode string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mode == "" || mode == "all" {
		clear(f.rules)
		return nil
	}
	ms, err := expandMode(mode)
	if err != nil {
		return err
	}
	for _, m := range ms {
		delete(f.rules, m)
	}
	return nil
}

func (f *faults) active(mode string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.rules[mode]
	return ok
}

// hit decides whether mode affects an operation on path.
func (f *faults) hit(mode, path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rules[mode]
	if !ok || !strings.HasPrefix(path, r.Prefix) {
		return false
	}
	return r.Prob >= 1 || f.rng.Float64() < r.Prob
}

// intN draws from the shared generator.
func (f *faults) intN(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.IntN(n)
}

// corrupt flips one random byte of b in place.
func (f *faults) corrupt(b []byte) {
	if len(b) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.rng.IntN(len(b))
	b[i] ^= byte(1 + f.rng.IntN(255))
}

func (f *faults) snapshot() map[string]Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]Rule, len(f.rules))
	for k, v := range f.rules {
		out[k] = v
	}
	return out
}

func (f *faults) names() []string {
	m := f.snapshot()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (f *faults) int64N(n int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Int64N(n)
}
