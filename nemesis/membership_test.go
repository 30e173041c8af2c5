package nemesis

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

var five = []string{"n1", "n2", "n3", "n4", "n5"}

func fullViews(nodes, members []string) map[string][]string {
	v := map[string][]string{}
	for _, n := range members {
		v[n] = append([]string(nil), members...)
	}
	return v
}

func changes(cs []memberChange) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func TestMemberStateLegal(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := newMemberState(five, 0, 10*time.Second)
	if s.min != 3 {
		t.Fatalf("default min = %d, want a majority of 5 (3)", s.min)
	}
	if got := s.legal(); len(got) != 0 {
		t.Errorf("legal changes with no views: %v", changes(got))
	}
	s.observe(fullViews(five, five), t0)
	if got, want := changes(s.legal()), []string{"remove n1", "remove n2", "remove n3", "remove n4", "remove n5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("full cluster: %v, want %v", got, want)
	}
	// A pending removal counts as done: one more removal at most, and
	// never of the node already being removed.
	s.invoked(memberChange{Kind: "remove", Node: "n2", At: t0})
	if got, want := changes(s.legal()), []string{"remove n1", "remove n3", "remove n4", "remove n5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("one removal pending: %v, want %v", got, want)
	}
	s.invoked(memberChange{Kind: "remove", Node: "n4", At: t0})
	if got := s.legal(); len(got) != 0 {
		t.Errorf("two removals pending of 5 with min 3: %v, want nothing", changes(got))
	}
	// The views show both removals: they resolve; only adds of the nodes
	// that are out are legal, since 3 members is the minimum.
	resolved, expired := s.observe(fullViews(five, []string{"n1", "n3", "n5"}), t0.Add(time.Second))
	if got := changes(resolved); !reflect.DeepEqual(got, []string{"remove n2", "remove n4"}) || len(expired) != 0 {
		t.Errorf("resolved %v, expired %v", got, changes(expired))
	}
	if got, want := changes(s.legal()), []string{"add n2", "add n4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("at the minimum: %v, want %v", got, want)
	}
	if got := s.out(); !reflect.DeepEqual(got, []string{"n2", "n4"}) {
		t.Errorf("out = %v", got)
	}
}

func TestMemberStateMinMembers(t *testing.T) {
	s := newMemberState([]string{"n1", "n2", "n3"}, 1, time.Minute)
	s.observe(fullViews(nil, []string{"n1", "n2"}), time.Unix(0, 0))
	if got, want := changes(s.legal()), []string{"remove n1", "remove n2", "add n3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("min 1: %v, want %v", got, want)
	}
	// A lone member cannot be removed (min 1), and nothing can run an add
	// on a member that does not answer.
	s.observe(map[string][]string{"n1": {"n1"}}, time.Unix(0, 0))
	if got, want := changes(s.legal()), []string{"add n2", "add n3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("one member: %v, want %v", got, want)
	}
	s.observe(map[string][]string{}, time.Unix(0, 0))
	if got := s.legal(); len(got) != 0 {
		t.Errorf("no views: %v", changes(got))
	}
}

// TestMemberStateViews: the membership is a view a majority of its members
// report; a removed node that still believes it is a member is outvoted,
// and a node not in its own view does not vote.
func TestMemberStateViews(t *testing.T) {
	s := newMemberState(five, 0, time.Minute)
	v := fullViews(five, []string{"n1", "n2", "n3", "n4"})
	v["n5"] = append([]string(nil), five...) // stale: removed, still running
	s.observe(v, time.Unix(0, 0))
	if got := s.members(); !reflect.DeepEqual(got, []string{"n1", "n2", "n3", "n4"}) {
		t.Errorf("members = %v", got)
	}
	// n1 does not count itself in, so n4's view has one vote of two: no
	// majority of its members, no membership.
	s.observe(map[string][]string{"n1": {"n2", "n3"}, "n4": {"n1", "n4"}}, time.Unix(0, 0))
	if got := s.members(); got != nil {
		t.Errorf("members = %v, want none (no view has a majority of its members)", got)
	}
	// Two removed nodes and one member answer, each with its own view:
	// none is a majority of its members.
	s.observe(map[string][]string{"n2": {"n1", "n2", "n3", "n4"}, "n3": {"n1", "n3", "n4"}, "n5": {"n1", "n3", "n4", "n5"}}, time.Unix(0, 0))
	if got := s.members(); got != nil {
		t.Errorf("members = %v, want none", got)
	}
	// A split: both sides have a majority of their own view; the larger
	// side wins.
	s.observe(map[string][]string{"n1": {"n1", "n2"}, "n3": {"n3", "n4", "n5"}, "n4": {"n3", "n4", "n5"}}, time.Unix(0, 0))
	if got := s.members(); !reflect.DeepEqual(got, []string{"n3", "n4", "n5"}) {
		t.Errorf("split: members = %v", got)
	}
}

// TestMemberStatePendingTimeout: a change the views never show stays
// pending (its node untouchable) until the timeout, then is dropped.
func TestMemberStatePendingTimeout(t *testing.T) {
	t0 := time.Unix(100, 0)
	s := newMemberState([]string{"n1", "n2", "n3"}, 2, 10*time.Second)
	s.observe(fullViews(nil, []string{"n1", "n2"}), t0)
	s.invoked(memberChange{Kind: "add", Node: "n3", At: t0, Err: "timed out"})
	if got := changes(s.legal()); len(got) != 0 {
		t.Errorf("n3's add pending, n1 and n2 at the minimum: %v", got)
	}
	resolved, expired := s.observe(fullViews(nil, []string{"n1", "n2"}), t0.Add(9*time.Second))
	if len(resolved)+len(expired) != 0 || len(s.pending) != 1 {
		t.Fatalf("before the timeout: resolved %v expired %v pending %v", resolved, expired, s.pending)
	}
	resolved, expired = s.observe(fullViews(nil, []string{"n1", "n2"}), t0.Add(11*time.Second))
	if len(resolved) != 0 || changes(expired)[0] != "add n3" || len(s.pending) != 0 {
		t.Fatalf("after the timeout: resolved %v expired %v pending %v", resolved, changes(expired), s.pending)
	}
	if got := changes(s.legal()); !reflect.DeepEqual(got, []string{"add n3"}) {
		t.Errorf("after expiry: %v, want add n3 again", got)
	}
	// An errored add that did happen resolves when the views show it.
	s.invoked(memberChange{Kind: "add", Node: "n3", At: t0.Add(12 * time.Second), Err: "connection reset"})
	resolved, _ = s.observe(fullViews(nil, []string{"n1", "n2", "n3"}), t0.Add(13*time.Second))
	if got := changes(resolved); !reflect.DeepEqual(got, []string{"add n3"}) {
		t.Errorf("resolved %v", got)
	}
}

// walk drives the state machine against a model cluster for steps steps:
// changes apply at once, apply but report an error, fail, or apply late
// (within the timeout); nodes miss refreshes at random; removed nodes keep
// reporting the view they had. It checks on every step that only legal
// changes are chosen and that the cluster never has fewer than min
// members, and returns the changes chosen.
func walk(t *testing.T, seed uint64, nodes []string, min, steps int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	world := rand.New(rand.NewPCG(seed, 2))
	s := newMemberState(nodes, min, 10*time.Second)
	in := map[string]bool{}
	for _, n := range nodes {
		in[n] = true
	}
	stale := map[string][]string{}
	type late struct {
		c  memberChange
		at int
	}
	var delayed []late
	var chosen []string
	members := func() []string {
		var out []string
		for _, n := range nodes {
			if in[n] {
				out = append(out, n)
			}
		}
		return out
	}
	apply := func(c memberChange) {
		if c.Kind == "remove" {
			stale[c.Node] = members()
			in[c.Node] = false
		} else {
			delete(stale, c.Node)
			in[c.Node] = true
		}
	}
	for step := 0; step < steps; step++ {
		now := time.Unix(int64(step), 0)
		var keep []late
		for _, d := range delayed {
			if d.at <= step {
				apply(d.c)
			} else {
				keep = append(keep, d)
			}
		}
		delayed = keep
		views := map[string][]string{}
		for _, n := range nodes {
			if world.IntN(10) == 0 {
				continue // unreachable this time
			}
			if in[n] {
				views[n] = members()
			} else if v, ok := stale[n]; ok {
				views[n] = v
			}
		}
		s.observe(views, now)
		c, ok := s.choose(rng)
		if !ok {
			continue
		}
		m := s.members()
		switch {
		case c.Kind == "remove" && !contains(m, c.Node):
			t.Fatalf("step %d: removing %s, which is not a member (%v)", step, c.Node, m)
		case c.Kind == "add" && contains(m, c.Node):
			t.Fatalf("step %d: adding %s, which is a member (%v)", step, c.Node, m)
		case s.pendingFor(c.Node):
			t.Fatalf("step %d: %s while a change of %s is pending", step, c, c.Node)
		}
		chosen = append(chosen, c.String())
		c.At = now
		switch r := world.IntN(10); {
		case r < 6:
			apply(c)
		case r < 7:
			apply(c)
			c.Err = "timed out"
		case r < 8:
			c.Err = "refused"
		default:
			delayed = append(delayed, late{c: c, at: step + 1 + world.IntN(8)})
		}
		s.invoked(c)
		if n := len(members()); n < min {
			t.Fatalf("step %d: %d members after %s, below the minimum %d", step, n, c, min)
		}
	}
	return chosen
}

func TestMemberStateRandomWalk(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		got := walk(t, seed, five, 3, 500)
		adds, removes := 0, 0
		for _, c := range got {
			if strings.HasPrefix(c, "add") {
				adds++
			} else {
				removes++
			}
		}
		if adds < 20 || removes < 20 {
			t.Errorf("seed %d: %d adds and %d removes in 500 steps: the walk hardly moves", seed, adds, removes)
		}
	}
	walk(t, 7, []string{"n1", "n2", "n3"}, 2, 300)
	walk(t, 7, five, 1, 300)
}

func TestMemberStateDeterministic(t *testing.T) {
	a, b := walk(t, 42, five, 3, 200), walk(t, 42, five, 3, 200)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different changes")
	}
	if reflect.DeepEqual(a, walk(t, 43, five, 3, 200)) {
		t.Error("different seeds, same changes")
	}
}

func TestParseView(t *testing.T) {
	hosts := map[string]string{"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"}
	nodes := []string{"n1", "n2", "n3"}
	for _, c := range []struct {
		out  string
		want []string
	}{
		{`["n3", "n1"]`, []string{"n1", "n3"}},
		{"n2\nn1\n", []string{"n1", "n2"}},
		{"10.0.0.3 10.0.0.2,bogus", []string{"n2", "n3"}},
		{"http://10.0.0.1:2380\nhttp://10.0.0.1:2380\nhttps://n2:2380", []string{"n1", "n2"}},
		{"", []string{}},
		{`{"members": 3}`, []string{}},
	} {
		if got := parseView(c.out, nodes, hosts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseView(%q) = %v, want %v", c.out, got, c.want)
		}
	}
}

// fakeCluster is a membership the fake remotes' commands read and change:
// "view" prints the members, "add X" and "remove X" change them, "reset X"
// records a reset; "fail ..." exits 1 (after doing the rest).
type fakeCluster struct {
	mu      sync.Mutex
	members map[string]bool
	down    map[string]bool // nodes whose commands cannot run
	ran     []string        // "node: script"
}

type fakeRemote struct {
	node string
	c    *fakeCluster
}

func (r *fakeRemote) Node() string { return r.node }
func (r *fakeRemote) Upload(context.Context, io.Reader, string, fs.FileMode) error {
	return nil
}
func (r *fakeRemote) Download(context.Context, string, io.Writer) error { return nil }
func (r *fakeRemote) Close() error                                      { return nil }
func (r *fakeRemote) Exec(_ context.Context, cmd control.Command) (control.Result, error) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down[r.node] {
		return control.Result{}, &control.NodeError{Node: r.node, Err: fmt.Errorf("unreachable")}
	}
	c.ran = append(c.ran, r.node+": "+cmd.Script)
	f := strings.Fields(cmd.Script)
	fail := len(f) > 0 && f[0] == "fail"
	if fail {
		f = f[1:]
	}
	res := control.Result{Node: r.node}
	switch f[0] {
	case "view":
		var ms []string
		for n, in := range c.members {
			if in {
				ms = append(ms, n)
			}
		}
		sort.Strings(ms)
		res.Stdout = strings.Join(ms, "\n") + "\n"
	case "add":
		c.members[f[1]] = true
		res.Stdout = "added " + f[1]
	case "remove":
		c.members[f[1]] = false
		res.Stdout = "removed " + f[1]
	case "reset":
		res.Stdout = "reset " + strings.Join(f[1:], " ")
	}
	if fail {
		res.ExitStatus = 1
		return res, &control.ExitError{Node: r.node, Command: cmd.Script, ExitStatus: 1}
	}
	return res, nil
}

func fakeMembership(t *testing.T, c *fakeCluster, nodes []string, addCmd string) *Nemesis {
	t.Helper()
	var rs []control.Remote
	var ens []eval.Node
	for i, n := range nodes {
		rs = append(rs, &fakeRemote{node: n, c: c})
		ens = append(ens, eval.Node{Name: n, Host: "10.0.0." + n[1:], Index: i})
	}
	cmds := func(action string, node eval.Node, member *eval.Node, members []eval.Node) ([]string, error) {
		var names []string
		for _, m := range members {
			names = append(names, m.Name)
		}
		switch action {
		case "view":
			return []string{"view"}, nil
		case "add":
			return []string{addCmd + " " + member.Name}, nil
		case "remove":
			return []string{"remove " + member.Name}, nil
		case "reset":
			return []string{"reset " + member.Name + " " + strings.Join(names, ",")}, nil
		}
		return nil, fmt.Errorf("no %s", action)
	}
	fc := eval.FaultConfig{Name: "members", Type: "membership", Membership: &eval.MembershipConfig{
		PendingTimeout: time.Minute, HasReset: true, Commands: cmds}}
	n, err := New(rs, ens, []eval.FaultConfig{fc}, nil, Options{Seed: 3, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func invokeF(t *testing.T, n *Nemesis, f string) history.Op {
	t.Helper()
	op, err := n.Invoke(context.Background(), history.Op{Type: history.Invoke, F: f, Process: history.NemesisProcess})
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return op
}

// TestMembershipFault drives the fault against fake nodes: starts change
// one member at a time and never below a majority, the op values record
// the change and the views, stop and teardown add every node back, and
// reset runs on the joining node with the members after the add.
func TestMembershipFault(t *testing.T) {
	c := &fakeCluster{members: map[string]bool{"n1": true, "n2": true, "n3": true, "n4": true, "n5": true}, down: map[string]bool{}}
	n := fakeMembership(t, c, five, "add")
	count := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		k := 0
		for _, in := range c.members {
			if in {
				k++
			}
		}
		return k
	}
	var kinds []string
	for i := 0; i < 30; i++ {
		op := invokeF(t, n, "start-members")
		v := op.Value.(map[string]any)
		if op.Type != history.Info || op.Error != "" {
			t.Fatalf("start: %+v", op)
		}
		kinds = append(kinds, fmt.Sprint(v["change"]))
		if count() < 3 {
			t.Fatalf("after %v: %d members, below a majority", v, count())
		}
		if v["change"] != "none" && v["on"] == v["member"] {
			t.Errorf("change %v ran on the member itself", v)
		}
		if _, ok := v["views"].(map[string]any)["n1"]; !ok {
			t.Errorf("no views in %v", v)
		}
	}
	if !strings.Contains(strings.Join(kinds, " "), "add") || !strings.Contains(strings.Join(kinds, " "), "remove") {
		t.Errorf("changes %v: want both adds and removes", kinds)
	}
	// Bring it to the minimum, then stop adds everyone back.
	for count() > 3 {
		invokeF(t, n, "start-members")
	}
	op := invokeF(t, n, "stop-members")
	if count() != 5 || op.Error != "" {
		t.Fatalf("stop: %d members, op %+v", count(), op)
	}
	v := op.Value.(map[string]any)
	if len(v["added"].(map[string]any)) != 2 || !reflect.DeepEqual(v["members"], five) {
		t.Errorf("stop value %v", v)
	}
	c.mu.Lock()
	var resets []string
	for _, r := range c.ran {
		if strings.Contains(r, "reset") {
			resets = append(resets, r)
		}
	}
	c.mu.Unlock()
	last := resets[len(resets)-1]
	if node, _, _ := strings.Cut(last, ":"); !strings.Contains(last, "reset "+node+" n1,n2,n3,n4,n5") {
		t.Errorf("the last reset %q did not run on the joining node with every member", last)
	}
	// Teardown adds back what starts removed, with no stop.
	for count() > 3 {
		invokeF(t, n, "start-members")
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if count() != 5 {
		t.Errorf("teardown left %d members", count())
	}
}

// TestMembershipFaultErrors: an add that errors but happened is pending
// and then resolved by the views; a node that cannot be reached does not
// stop decisions; with no views at all, start does nothing.
func TestMembershipFaultErrors(t *testing.T) {
	c := &fakeCluster{members: map[string]bool{"n1": true, "n2": true, "n3": false}, down: map[string]bool{}}
	n := fakeMembership(t, c, []string{"n1", "n2", "n3"}, "fail add")
	op := invokeF(t, n, "start-members")
	v := op.Value.(map[string]any)
	if v["change"] != "add" || v["member"] != "n3" || op.Error == "" {
		t.Fatalf("at the minimum with n3 out: want an add of n3 that errors, got %v (error %q)", v, op.Error)
	}
	if p := v["pending"].([]any); len(p) != 1 || p[0].(map[string]any)["error"] == nil {
		t.Errorf("pending %v: want the errored add", p)
	}
	if v["reset"] == nil {
		t.Errorf("reset did not run after the errored add: %v", v)
	}
	c.mu.Lock()
	c.down["n2"] = true
	c.mu.Unlock()
	op = invokeF(t, n, "start-members")
	v = op.Value.(map[string]any)
	if r := v["resolved"].([]any); len(r) != 1 {
		t.Errorf("resolved %v: the views show n3, so its add is resolved", r)
	}
	if s, _ := v["views"].(map[string]any)["n2"].(string); !strings.HasPrefix(s, "unknown") {
		t.Errorf("n2's view %v, want unknown", v["views"])
	}
	c.mu.Lock()
	c.down = map[string]bool{"n1": true, "n2": true, "n3": true}
	c.mu.Unlock()
	op = invokeF(t, n, "start-members")
	if v := op.Value.(map[string]any); v["change"] != "none" {
		t.Errorf("no views: %v", v)
	}
}
