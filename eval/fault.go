package eval

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// Targets chooses the nodes a fault hits: a named selection (one, minority,
// majority, all, primaries, minority-third) or explicit node names.
type Targets struct {
	Selection string
	Nodes     []string
}

// TargetSelections are the named target selections.
var TargetSelections = []string{"one", "minority", "majority", "all", "primaries", "minority-third"}

// PartitionTopologies are the named partition shapes.
var PartitionTopologies = []string{"halves", "random-halves", "majorities-ring", "one", "bridge", "primaries"}

// FaultConfig is a fault block evaluated.
type FaultConfig struct {
	Name    string
	Type    string
	Targets Targets
	// Topology is a named topology, or Groups for explicit components.
	Topology string
	Groups   [][]string
	// Daemon is the db and daemon name the fault acts on.
	DB, Daemon string
	Signal     string
	Mode       string
	Delta      time.Duration
	Period     time.Duration
	Duration   time.Duration
	Netem      map[string]string
	Action     string
	// Method is how a clock fault moves time: "settime" or "faketime".
	Method string
	Path   string
	Dir    string
	Prob   float64
	Bytes  int
	Start  []string
	Stop   []string
	// Membership holds a membership fault's commands and limits.
	Membership *MembershipConfig
	// Flakey holds a flakey fault's device settings.
	Flakey *FlakeyConfig
}

// Fault evaluates a fault block.
func (e *Evaluator) Fault(f *lang.Fault) (FaultConfig, hcl.Diagnostics) {
	c := FaultConfig{Name: f.Name, Type: f.Type, Targets: Targets{Selection: "one"}}
	ctx := e.root
	var diags, ds hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	a := f.Args
	if x := a.Expr("targets"); x != nil {
		c.Targets, ds = e.targets(x)
		add(ds)
	}
	if x := a.Expr("daemon"); x != nil {
		c.DB, c.Daemon, ds = daemonRef(x, ctx)
		add(ds)
	}
	switch f.Type {
	case "partition":
		if x := a.Expr("topology"); x != nil {
			c.Topology, c.Groups, ds = e.topology(x)
			add(ds)
		} else {
			c.Topology = "random-halves"
		}
	case "kill":
		c.Signal, ds = oneOfStrings(a.Expr("signal"), ctx, "signal", "KILL", "KILL", "TERM", "INT", "QUIT", "HUP", "ABRT")
		add(ds)
	case "clock":
		c.Mode, ds = oneOfStrings(a.Expr("mode"), ctx, "mode", "bump", "bump", "strobe")
		add(ds)
		c.Delta, ds = duration(a.Expr("delta"), ctx, "delta", 0, true)
		add(ds)
		c.Period, ds = duration(a.Expr("period"), ctx, "period", 10*time.Millisecond, false)
		add(ds)
		c.Duration, ds = duration(a.Expr("duration"), ctx, "duration", time.Second, false)
		add(ds)
		c.Method, ds = oneOfStrings(a.Expr("method"), ctx, "method", "settime", "settime", "faketime")
		add(ds)
		if c.Method == "faketime" && a.Expr("daemon") == nil {
			add(hcl.Diagnostics{errDiag("Missing daemon", `A faketime clock fault moves one daemon's clock: give daemon = db.<db>.daemon.<daemon>.`, f.DeclRange)})
		}
		if c.Mode == "bump" && a.Expr("delta") == nil {
			add(hcl.Diagnostics{errDiag("Missing delta", `A clock bump needs delta, how far to move clocks, e.g. delta = "-5s".`, f.DeclRange)})
		}
	case "packet":
		c.Netem = map[string]string{}
		for _, name := range []string{"delay", "jitter"} {
			if x := a.Expr(name); x != nil {
				d, ds := duration(x, ctx, name, 0, false)
				add(ds)
				c.Netem[name] = d.String()
			}
		}
		for _, name := range []string{"loss", "corrupt", "duplicate", "reorder"} {
			if x := a.Expr(name); x != nil {
				p, ds := fraction(x, ctx, name)
				add(ds)
				c.Netem[name] = fmt.Sprintf("%g%%", p*100)
			}
		}
		if x := a.Expr("rate"); x != nil {
			r, ds := str(x, ctx, "rate", "")
			add(ds)
			c.Netem["rate"] = r
		}
		if len(a) == 0 || (len(a) == 1 && a.Expr("targets") != nil) {
			add(hcl.Diagnostics{errDiag("Packet fault does nothing",
				"A packet fault needs at least one of delay, loss, corrupt, duplicate, reorder or rate.", f.DeclRange)})
		}
	case "file":
		c.Action, ds = oneOfStrings(a.Expr("action"), ctx, "action", "", "bitflip", "truncate", "snapshot", "restore")
		add(ds)
		c.Path, ds = str(a.Expr("path"), ctx, "path", "")
		add(ds)
		c.Prob, ds = fractionOpt(a.Expr("probability"), ctx, "probability", 0.01)
		add(ds)
		c.Bytes, ds = integer(a.Expr("bytes"), ctx, "bytes", 1, 1, 1<<30)
		add(ds)
	case "filesystem":
		c.Dir, ds = str(a.Expr("dir"), ctx, "dir", "")
		add(ds)
		c.Mode, ds = oneOfStrings(a.Expr("mode"), ctx, "mode", "", "lose-unfsynced", "drop-writes", "error-writes", "error-reads", "corrupt", "torn-writes")
		add(ds)
		c.Prob, ds = fractionOpt(a.Expr("probability"), ctx, "probability", 1)
		add(ds)
	case "flakey":
		add(e.flakey(f, &c))
	case "membership":
		c.Membership, ds = e.membership(f)
		add(ds)
	case "custom":
		c.Start, ds = commands(a.Expr("start"), ctx, "start")
		add(ds)
		c.Stop, ds = commands(a.Expr("stop"), ctx, "stop")
		add(ds)
	}
	return c, diags
}

// MembershipConfig is a membership fault's configuration. Its commands are
// evaluated each time they run, on the node that runs them, because they
// depend on the node (node), the node joining or leaving (member) and the
// cluster's members as the nemesis knows them (members).
type MembershipConfig struct {
	// MinMembers is the smallest cluster removals may leave; 0 means a
	// majority of the test's nodes.
	MinMembers int
	// PendingTimeout is how long a change the nodes' views do not show
	// yet stays pending before the nemesis gives up on it.
	PendingTimeout time.Duration
	// HasReset reports whether the fault has reset commands.
	HasReset bool
	// Commands evaluates the commands of action ("view", "add", "remove"
	// or "reset") to run on node. member is the node joining or leaving
	// (nil for view); members are the cluster's members.
	Commands func(action string, node Node, member *Node, members []Node) ([]string, error)
}

// MembershipActions are the membership fault's command arguments.
var MembershipActions = []string{"view", "add", "remove", "reset"}

func (e *Evaluator) membership(f *lang.Fault) (*MembershipConfig, hcl.Diagnostics) {
	a := f.Args
	m := &MembershipConfig{HasReset: a.Expr("reset") != nil}
	var diags, ds hcl.Diagnostics
	max := 1 << 20
	if e.nodes != nil {
		max = len(e.nodes)
	}
	if x := a.Expr("min_members"); x != nil {
		m.MinMembers, ds = integer(x, e.root, "min_members", 0, 1, max)
		diags = append(diags, ds...)
	}
	m.PendingTimeout, ds = duration(a.Expr("pending_timeout"), e.root, "pending_timeout", 30*time.Second, false)
	diags = append(diags, ds...)
	if x := a.Expr("pending_timeout"); x != nil && m.PendingTimeout <= 0 && !ds.HasErrors() {
		diags = append(diags, valueDiag(x, "pending_timeout", "must be longer than zero"))
	}
	ctx := func(action string, node *Node, member *Node, members []Node) *hcl.EvalContext {
		c := e.root.NewChild()
		nv, mv := cty.UnknownVal(NodeType), cty.UnknownVal(NodeType)
		if node != nil {
			nv = node.Value()
		}
		if member != nil {
			mv = member.Value()
		}
		ms := cty.UnknownVal(cty.List(NodeType))
		if members != nil {
			vals := make([]cty.Value, len(members))
			for i, n := range members {
				vals[i] = n.Value()
			}
			ms = cty.ListValEmpty(NodeType)
			if len(vals) > 0 {
				ms = cty.ListVal(vals)
			}
		}
		c.Variables = map[string]cty.Value{"node": nv, "members": ms}
		if action != "view" {
			c.Variables["member"] = mv
		}
		return c
	}
	// Checked once with unknown nodes, so a mistake shows before a run.
	for _, action := range MembershipActions {
		_, ds := commands(a.Expr(action), ctx(action, nil, nil, nil), action)
		diags = append(diags, ds...)
	}
	m.Commands = func(action string, node Node, member *Node, members []Node) ([]string, error) {
		cmds, ds := commands(a.Expr(action), ctx(action, &node, member, members), action)
		if ds.HasErrors() {
			return nil, fmt.Errorf("evaluating %s for %s: %s", action, node.Name, ds.Error())
		}
		return cmds, nil
	}
	return m, diags
}

func daemonRef(x hcl.Expression, ctx *hcl.EvalContext) (db, daemon string, diags hcl.Diagnostics) {
	v, diags := x.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return "", "", diags
	}
	if v.IsNull() || !v.Type().Equals(DaemonRefType) {
		return "", "", append(diags, valueDiag(x, "daemon", "expected a daemon reference like db.etcd.daemon.etcd"))
	}
	return v.GetAttr("db").AsString(), v.GetAttr("daemon").AsString(), diags
}

func (e *Evaluator) targets(x hcl.Expression) (Targets, hcl.Diagnostics) {
	v, diags := x.Value(e.root)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return Targets{Selection: "one"}, diags
	}
	if v.Type() == cty.String {
		s := v.AsString()
		for _, t := range TargetSelections {
			if s == t {
				return Targets{Selection: s}, diags
			}
		}
		return Targets{Selection: "one"}, append(diags, valueDiag(x, "targets",
			fmt.Sprintf("%q is not a target selection; use %s, or a list of node names", s, quoteList(TargetSelections))))
	}
	names, ds := stringList(x, e.root, "targets")
	diags = append(diags, ds...)
	if ds.HasErrors() {
		return Targets{Selection: "one"}, diags
	}
	diags = append(diags, e.checkNodeNames(x, names, "targets")...)
	return Targets{Nodes: names}, diags
}

func (e *Evaluator) checkNodeNames(x hcl.Expression, names []string, what string) hcl.Diagnostics {
	if e.nodes == nil {
		return nil
	}
	for _, n := range names {
		found := false
		for _, node := range e.nodes {
			if node.Name == n {
				found = true
			}
		}
		if !found {
			return hcl.Diagnostics{valueDiag(x, what, fmt.Sprintf("%q is not one of the test's nodes", n))}
		}
	}
	return nil
}

func (e *Evaluator) topology(x hcl.Expression) (string, [][]string, hcl.Diagnostics) {
	v, diags := x.Value(e.root)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return "", nil, diags
	}
	if v.Type() == cty.String {
		s, ds := oneOfStrings(x, e.root, "topology", "random-halves", PartitionTopologies...)
		return s, nil, append(diags, ds...)
	}
	gv, ds := evalAs(x, e.root, cty.List(cty.List(cty.String)), "topology")
	diags = append(diags, ds...)
	if ds.HasErrors() || gv.IsNull() {
		if !ds.HasErrors() {
			diags = append(diags, valueDiag(x, "topology", "expected a topology name or a list of node-name lists"))
		}
		return "", nil, diags
	}
	var groups [][]string
	seen := map[string]bool{}
	for it := gv.ElementIterator(); it.Next(); {
		_, g := it.Element()
		var names []string
		for it2 := g.ElementIterator(); it2.Next(); {
			_, n := it2.Element()
			if seen[n.AsString()] {
				return "", nil, append(diags, valueDiag(x, "topology", fmt.Sprintf("node %q is in two components", n.AsString())))
			}
			seen[n.AsString()] = true
			names = append(names, n.AsString())
		}
		diags = append(diags, e.checkNodeNames(x, names, "topology")...)
		groups = append(groups, names)
	}
	if len(groups) < 2 {
		diags = append(diags, valueDiag(x, "topology", "a partition needs at least two components"))
	}
	return "", groups, diags
}

func fraction(x hcl.Expression, ctx *hcl.EvalContext, what string) (float64, hcl.Diagnostics) {
	v, diags := evalAs(x, ctx, cty.Number, what)
	if !known(v) {
		return 0, diags
	}
	f, _ := v.AsBigFloat().Float64()
	if f < 0 || f > 1 {
		return 0, append(diags, valueDiag(x, what, fmt.Sprintf("%g is not a fraction between 0 and 1", f)))
	}
	return f, diags
}

func fractionOpt(x hcl.Expression, ctx *hcl.EvalContext, what string, def float64) (float64, hcl.Diagnostics) {
	if x == nil {
		return def, nil
	}
	return fraction(x, ctx, what)
}
