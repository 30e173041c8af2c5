package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// Fault is one fault the nemesis can inject. Its type selects the arguments
// it accepts. A plan schedules it through the generator values
// fault.<name>.start and fault.<name>.stop.
type Fault struct {
	Name string
	Type string
	Args Args

	DeclRange hcl.Range
	TypeRange hcl.Range
}

// targetsAttr is shared by every fault that picks nodes.
var targetsAttr = AttrSpec{Name: "targets", Doc: `nodes hit: "one", "minority", "majority", "all", "primaries", or a list of names`}

// FaultTypes are the schemas of each fault type.
var FaultTypes = map[string]Schema{
	"partition": registerSchema("fault:partition", Schema{Attrs: []AttrSpec{
		{Name: "topology", Doc: `"halves", "random-halves", "majorities-ring", "one", "bridge", "primaries", or a list of node-name lists`},
	}}),
	"kill": registerSchema("fault:kill", Schema{Attrs: []AttrSpec{
		{Name: "daemon", Required: true, Doc: "the daemon killed, e.g. db.etcd.daemon.etcd"},
		targetsAttr,
		{Name: "signal", Doc: `signal sent (default "KILL")`},
	}}),
	"pause": registerSchema("fault:pause", Schema{Attrs: []AttrSpec{
		{Name: "daemon", Required: true, Doc: "the daemon paused"},
		targetsAttr,
	}}),
	"clock": registerSchema("fault:clock", Schema{Attrs: []AttrSpec{
		{Name: "mode", Doc: `"bump" (default) or "strobe"`},
		{Name: "delta", Doc: `how far clocks move, e.g. "-5s" (bump)`},
		{Name: "period", Doc: "strobe: how often the clock flips"},
		{Name: "duration", Doc: "strobe: how long it strobes"},
		{Name: "method", Doc: `"settime" (the node's clock, default) or "faketime" (only the daemon's, via libfaketime)`},
		{Name: "daemon", Doc: "faketime: the daemon whose clock moves (restarted under libfaketime)"},
		targetsAttr,
	}}),
	"packet": registerSchema("fault:packet", Schema{Attrs: []AttrSpec{
		{Name: "delay", Doc: `added latency, e.g. "50ms"`},
		{Name: "jitter", Doc: "latency variation"},
		{Name: "loss", Doc: "fraction of packets dropped, 0 to 1"},
		{Name: "corrupt", Doc: "fraction corrupted"},
		{Name: "duplicate", Doc: "fraction duplicated"},
		{Name: "reorder", Doc: "fraction reordered"},
		{Name: "rate", Doc: `bandwidth limit, e.g. "1mbit"`},
		targetsAttr,
	}}),
	"file": registerSchema("fault:file", Schema{Attrs: []AttrSpec{
		{Name: "action", Required: true, Doc: `"bitflip", "truncate", "snapshot" or "restore"`},
		{Name: "path", Required: true, Doc: "file or directory on the node"},
		{Name: "probability", Doc: "bitflip: fraction of bytes flipped"},
		{Name: "bytes", Doc: "truncate: bytes cut from the end"},
		targetsAttr,
	}}),
	"filesystem": registerSchema("fault:filesystem", Schema{Attrs: []AttrSpec{
		{Name: "dir", Required: true, Doc: "directory mounted on jplan's fault filesystem"},
		{Name: "mode", Required: true, Doc: `"lose-unfsynced", "drop-writes", "error-writes", "error-reads", "corrupt" or "torn-writes"`},
		{Name: "probability", Doc: "fraction of operations affected"},
		{Name: "daemon", Doc: "daemon killed with the loss, and restarted after"},
		targetsAttr,
	}}),
	"flakey": registerSchema("fault:flakey", Schema{Attrs: []AttrSpec{
		{Name: "dir", Required: true, Doc: "directory put on a dm-flakey device (a loop device over a backing file)"},
		{Name: "mode", Required: true, Doc: `"lose-unfsynced", "drop-writes", "error-writes", "error-reads", "error-all", "corrupt-reads" or "corrupt-writes"`},
		{Name: "size", Doc: `size of the device (default "256MiB")`},
		{Name: "up_interval", Doc: `whole seconds the device works in each cycle while started (default "0s": misbehaves throughout)`},
		{Name: "down_interval", Doc: "whole seconds it then misbehaves"},
		{Name: "corrupt_byte", Doc: "corrupt modes: which byte of each I/O is replaced, from 1 (default 1)"},
		{Name: "corrupt_value", Doc: "corrupt modes: the byte put there, 0 to 255 (default 255)"},
		{Name: "daemon", Doc: "daemon stopped while the directory moves, killed by the power failure"},
		targetsAttr,
	}}),
	"membership": registerSchema("fault:membership", Schema{Attrs: []AttrSpec{
		{Name: "view", Required: true, Doc: "commands run on node printing the members it sees, as a JSON list or one per line"},
		{Name: "add", Required: true, Doc: "commands run on a member node that join member to the cluster"},
		{Name: "remove", Required: true, Doc: "commands run on a member node that remove member from the cluster"},
		{Name: "reset", Doc: "commands run on a joining node after add: wipe its data and restart it"},
		{Name: "min_members", Doc: "never shrink the cluster below this many members (default: a majority)"},
		{Name: "pending_timeout", Doc: `how long a change the views do not show stays pending (default "30s")`},
	}}),
	"custom": registerSchema("fault:custom", Schema{Attrs: []AttrSpec{
		{Name: "start", Required: true, Doc: "commands run on targets to start the fault"},
		{Name: "stop", Required: true, Doc: "commands that heal it"},
		targetsAttr,
	}}),
}

var faultHeadSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "type", Required: true}}}

func decodeFault(blk *hcl.Block) (*Fault, hcl.Diagnostics) {
	f := &Fault{Name: blk.Labels[0], Args: Args{}, DeclRange: blk.DefRange}
	var diags hcl.Diagnostics
	if d := checkName("fault", f.Name, blk.LabelRanges[0]); d != nil {
		diags = append(diags, d)
	}
	head, rest, ds := blk.Body.PartialContent(faultHeadSchema)
	diags = append(diags, ds...)
	ta, ok := head.Attributes["type"]
	if !ok {
		return f, diags
	}
	f.TypeRange = ta.Expr.Range()
	typ, ds := staticString(ta)
	diags = append(diags, ds...)
	if ds.HasErrors() {
		return f, diags
	}
	f.Type = typ
	s, d := kindSchemas("fault type", FaultTypes, typ, ta.Expr.Range())
	if d != nil {
		return f, append(diags, d)
	}
	content, ds := s.content(rest, fmt.Sprintf("fault %q", f.Name))
	diags = append(diags, ds...)
	for n, a := range content.Attributes {
		f.Args[n] = a
	}
	return f, diags
}
