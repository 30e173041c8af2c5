// Package history holds the record of a test run: every operation a client
// or the nemesis invoked, and how it completed. It is the boundary between the
// runner (which appends to it) and the checkers (which read it).
//
// The model is Jepsen's: an operation is invoked, then completes exactly once
// as ok (it took effect), fail (it certainly did not take effect) or info (it
// may or may not have taken effect, now or at any later time). A process that
// saw an info never invokes again; its worker continues as a new process.
package history

// Type is what an entry in the history records about an operation.
type Type uint8

const (
	// Invoke: a process began the operation.
	Invoke Type = iota
	// OK: the operation completed and took effect.
	OK
	// Fail: the operation completed and certainly did not take effect.
	Fail
	// Info: the outcome is unknown; the operation may take effect at any time
	// after its invocation, or never.
	Info
)

// String returns the lower-case name Jepsen uses (invoke, ok, fail, info).
func (t Type) String() string {
	switch t {
	case Invoke:
		return "invoke"
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return "unknown"
}

// ParseType is the inverse of Type.String.
func ParseType(s string) (Type, bool) {
	switch s {
	case "invoke":
		return Invoke, true
	case "ok":
		return OK, true
	case "fail":
		return Fail, true
	case "info":
		return Info, true
	}
	return 0, false
}

// NemesisProcess is the process id of the nemesis worker. Client processes
// are numbered from 0.
const NemesisProcess = -1

// Op is one entry of a history.
//
// Value holds plain data only: nil, bool, int64, float64, string, []any and
// map[string]any (the shapes JSON and EDN share). Checkers rely on integers
// being int64.
type Op struct {
	// Index is the position in the history, from 0.
	Index int64
	// Time is monotonic nanoseconds since the test started.
	Time int64
	Type Type
	// Process is the logical process; NemesisProcess for the nemesis.
	Process int
	// F names the function: "read", "write", "cas", "start-partition"...
	F     string
	Value any
	// Error describes why an op failed or is indeterminate; empty otherwise.
	Error string
	// Node is the node the process's client was bound to, when known.
	Node string
}

// IsNemesis reports whether the op belongs to the nemesis.
func (o *Op) IsNemesis() bool { return o.Process == NemesisProcess }
