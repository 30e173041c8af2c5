package nemesis

// Membership faults: nodes removed from the cluster and added back, with
// the plan's own commands, following the principles of Jepsen's membership
// nemesis. The nemesis keeps a state: what each node says the members are
// (its view), and the changes it asked for that the views do not show yet
// (pending). Every start refreshes the views, resolves what they show,
// chooses one legal change with the seeded generator and performs it:
//
//   - a change that errored may still have happened, so it stays pending
//     until the views show it or pending_timeout passes;
//   - a pending change constrains the next ones: its node is not changed
//     again, and a pending removal counts as done against min_members;
//   - removals never leave fewer than min_members (a majority by default),
//     so the cluster can keep serving; stop and heal add every node back;
//   - a removed node is left running with its data (where interesting
//     things happen); only when it joins again do the reset commands wipe
//     and restart it, once its removal has been seen.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

func init() { registerBuilder("membership", buildMembership) }

const (
	viewTimeout   = 30 * time.Second
	changeTimeout = 2 * time.Minute
)

// memberChange is a membership change: Kind "add" or "remove" of Node.
type memberChange struct {
	Kind string
	Node string
	// At is when it was invoked; Err what its commands reported.
	At  time.Time
	Err string
}

func (c memberChange) String() string { return c.Kind + " " + c.Node }

func (c memberChange) value() map[string]any {
	v := map[string]any{"change": c.Kind, "member": c.Node}
	if c.Err != "" {
		v["error"] = c.Err
	}
	return v
}

// memberState is the nemesis's knowledge of the cluster: the nodes' views
// from the last refresh and the pending changes. It is pure: no I/O, and
// time and randomness are passed in.
type memberState struct {
	nodes   []string // all nodes, in node order
	min     int
	timeout time.Duration
	// views are the members each node reported at the last refresh;
	// nodes that did not answer are absent (principle 5: decisions go on
	// without them).
	views   map[string][]string
	pending []memberChange
}

func newMemberState(nodes []string, min int, timeout time.Duration) *memberState {
	if min <= 0 {
		min = len(nodes)/2 + 1
	}
	return &memberState{nodes: nodes, min: min, timeout: timeout, views: map[string][]string{}}
}

// members is the cluster's membership: a view that a majority of its own
// members report, as a configuration is committed in Raft once a majority
// of it has it. A node's vote counts only for a view that includes itself,
// and a removed node left running may still report the view it had when
// it was removed; it cannot outvote the members. When several views
// qualify (the cluster is split), the one reported by more nodes wins, then
// the earliest node's. nil when no view qualifies: then nothing is changed
// (principle 1: no decision on a guess).
func (s *memberState) members() []string {
	counts := map[string]int{}
	first := map[string]int{}
	byKey := map[string][]string{}
	for i, n := range s.nodes {
		v, ok := s.views[n]
		if !ok || !contains(v, n) {
			continue
		}
		k := strings.Join(v, ",")
		if _, seen := first[k]; !seen {
			first[k] = i
			byKey[k] = v
		}
		counts[k]++
	}
	best := ""
	found := false
	for k, c := range counts {
		if c*2 <= len(byKey[k]) {
			continue
		}
		if !found || c > counts[best] || (c == counts[best] && first[k] < first[best]) {
			best, found = k, true
		}
	}
	if !found {
		return nil
	}
	return byKey[best]
}

// observe records fresh views and resolves the pending changes: a removal
// is done when the members no longer include its node, an addition when
// they do; a change older than the timeout is dropped.
func (s *memberState) observe(views map[string][]string, now time.Time) (resolved, expired []memberChange) {
	s.views = views
	m := s.members()
	var keep []memberChange
	for _, c := range s.pending {
		switch {
		case m != nil && (c.Kind == "remove") != contains(m, c.Node):
			resolved = append(resolved, c)
		case now.Sub(c.At) > s.timeout:
			expired = append(expired, c)
		default:
			keep = append(keep, c)
		}
	}
	s.pending = keep
	return resolved, expired
}

func (s *memberState) pendingFor(node string) bool {
	for _, c := range s.pending {
		if c.Node == node {
			return true
		}
	}
	return false
}

// runners are the members that answered the last refresh, except node:
// where a change of node's membership can be run.
func (s *memberState) runners(node string) []string {
	var out []string
	for _, n := range s.members() {
		if _, ok := s.views[n]; ok && n != node {
			out = append(out, n)
		}
	}
	return out
}

// legal lists the changes that are safe now, in node order: removing a
// member while the members left, counting pending removals as done, stay
// at least min; adding a node that is out. A node with a pending change is
// left alone, and so is every change no reachable member could run.
func (s *memberState) legal() []memberChange {
	m := s.members()
	if m == nil {
		return nil
	}
	left := len(m)
	for _, c := range s.pending {
		if c.Kind == "remove" && contains(m, c.Node) {
			left--
		}
	}
	var out []memberChange
	for _, n := range s.nodes {
		if s.pendingFor(n) || len(s.runners(n)) == 0 {
			continue
		}
		switch {
		case contains(m, n) && left-1 >= s.min:
			out = append(out, memberChange{Kind: "remove", Node: n})
		case !contains(m, n):
			out = append(out, memberChange{Kind: "add", Node: n})
		}
	}
	return out
}

// choose picks one legal change at random; ok is false when none is legal.
func (s *memberState) choose(rng *rand.Rand) (memberChange, bool) {
	l := s.legal()
	if len(l) == 0 {
		return memberChange{}, false
	}
	return l[rng.IntN(len(l))], true
}

// invoked records a change as pending.
func (s *memberState) invoked(c memberChange) { s.pending = append(s.pending, c) }

// out lists the nodes that are not members, in node order (all of them
// when the membership is unknown).
func (s *memberState) out() []string {
	m := s.members()
	var out []string
	for _, n := range s.nodes {
		if !contains(m, n) {
			out = append(out, n)
		}
	}
	return out
}

// after returns the members once c is done, in node order.
func (s *memberState) after(c memberChange) []string {
	m := s.members()
	var out []string
	for _, n := range s.nodes {
		in := contains(m, n)
		if n == c.Node {
			in = c.Kind == "add"
		}
		if in {
			out = append(out, n)
		}
	}
	return out
}

func (s *memberState) pendingValue() []any {
	out := []any{}
	for _, c := range s.pending {
		out = append(out, c.value())
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseView reads a view command's output: a JSON list of strings, or
// words separated by lines, spaces or commas. A word is a node's name, its
// host, or a URL whose host is a node's; other words are ignored. The
// result is in node order, without repeats.
func parseView(out string, nodes []string, hosts map[string]string) []string {
	out = strings.TrimSpace(out)
	var words []string
	if strings.HasPrefix(out, "[") && json.Unmarshal([]byte(out), &words) == nil {
	} else {
		words = strings.FieldsFunc(out, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r'
		})
	}
	byHost := map[string]string{}
	for _, n := range nodes {
		byHost[n] = n
		if h := hosts[n]; h != "" {
			if _, taken := byHost[h]; !taken {
				byHost[h] = n
			}
		}
	}
	seen := map[string]bool{}
	for _, w := range words {
		w = strings.Trim(w, `"'`)
		n, ok := byHost[w]
		if !ok && strings.Contains(w, "://") {
			if u, err := url.Parse(w); err == nil {
				n, ok = byHost[u.Hostname()]
			}
		}
		if ok {
			seen[n] = true
		}
	}
	view := []string{}
	for _, n := range nodes {
		if seen[n] {
			view = append(view, n)
		}
	}
	return view
}

// membership is a membership fault: the state and the plan's commands.
type membership struct {
	n     *Nemesis
	cfg   eval.FaultConfig
	mc    *eval.MembershipConfig
	nodes map[string]eval.Node
	now   func() time.Time

	mu      sync.Mutex // one change at a time
	st      *memberState
	touched bool
}

func buildMembership(n *Nemesis, fc eval.FaultConfig, _ DaemonLookup) (fault, error) {
	mc := fc.Membership
	if mc == nil || mc.Commands == nil {
		return nil, errors.New("a membership fault needs view, add and remove commands")
	}
	if mc.MinMembers > len(n.nodes) {
		return nil, fmt.Errorf("min_members is %d, but the test has only %d nodes", mc.MinMembers, len(n.nodes))
	}
	timeout := mc.PendingTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	m := &membership{n: n, cfg: fc, mc: mc, nodes: map[string]eval.Node{}, now: time.Now,
		st: newMemberState(n.nodes, mc.MinMembers, timeout)}
	for i, name := range n.nodes {
		m.nodes[name] = eval.Node{Name: name, Host: n.hosts[name], Index: i}
	}
	return m, nil
}

func (m *membership) nodeList(names []string) []eval.Node {
	out := make([]eval.Node, 0, len(names))
	for _, n := range names {
		out = append(out, m.nodes[n])
	}
	return out
}

// refresh runs the view commands on every node in parallel and records
// the views. It returns the views for the op's value: node → members, or
// the error where the node did not answer.
func (m *membership) refresh(ctx context.Context) (views map[string]any, resolved, expired []memberChange) {
	members := m.nodeList(m.st.members())
	if m.st.members() == nil {
		members = m.nodeList(m.n.nodes)
	}
	var mu sync.Mutex
	got := map[string][]string{}
	views = map[string]any{}
	_, _ = m.n.onNodes(ctx, m.n.nodes, func(ctx context.Context, r control.Remote) (string, error) {
		out, err := m.exec(ctx, r, "view", m.nodes[r.Node()], nil, members, viewTimeout)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			views[r.Node()] = "unknown: " + err.Error()
			return "", err
		}
		v := parseView(out, m.n.nodes, m.n.hosts)
		got[r.Node()] = v
		views[r.Node()] = v
		return "", nil
	})
	resolved, expired = m.st.observe(got, m.now())
	return views, resolved, expired
}

// exec evaluates action's commands for node and runs them there, returning
// their output (stdout and stderr of the last command that ran).
func (m *membership) exec(ctx context.Context, r control.Remote, action string, node eval.Node, member *eval.Node, members []eval.Node, timeout time.Duration) (string, error) {
	cmds, err := m.mc.Commands(action, node, member, members)
	if err != nil {
		return "", err
	}
	var outs []string
	for i, cmd := range cmds {
		res, err := r.Exec(ctx, control.Command{Script: cmd, Timeout: timeout})
		if err != nil {
			return strings.TrimSpace(res.Stdout), fmt.Errorf("%s command %d on %s: %w", action, i+1, node.Name, err)
		}
		if s := strings.TrimSpace(res.Stdout); s != "" {
			outs = append(outs, s)
		}
	}
	out := strings.Join(outs, "\n")
	if len(out) > 500 {
		out = out[:497] + "..."
	}
	return out, nil
}

func (m *membership) pick(list []string) string {
	m.n.rngMu.Lock()
	defer m.n.rngMu.Unlock()
	return list[m.n.rng.IntN(len(list))]
}

// perform runs change c: add or remove on a reachable member, then, for an
// add, reset on the joining node. The change is pending from the moment it
// is invoked, whatever the commands return.
// runners are the members that may run it; after, the members once it is
// done (the commands' members).
func (m *membership) perform(ctx context.Context, c memberChange, runners, afterNames []string) (map[string]any, error) {
	runner := m.pick(runners)
	after := m.nodeList(afterNames)
	member := m.nodes[c.Node]
	v := map[string]any{"change": c.Kind, "member": c.Node, "on": runner}
	out, err := m.exec(ctx, m.n.remotes[runner], c.Kind, m.nodes[runner], &member, after, changeTimeout)
	v["output"] = out
	c.At = m.now()
	if err != nil {
		c.Err = err.Error()
	}
	m.st.invoked(c)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	// An add that errored may still have happened, and a member that
	// never starts weakens the cluster: reset runs either way.
	if c.Kind == "add" && m.mc.HasReset {
		out, err := m.exec(ctx, m.n.remotes[c.Node], "reset", member, &member, after, changeTimeout)
		v["reset"] = out
		if err != nil {
			errs = append(errs, err)
		}
	}
	return v, errors.Join(errs...)
}

func changesValue(cs []memberChange) []any {
	out := []any{}
	for _, c := range cs {
		out = append(out, c.value())
	}
	return out
}

// start refreshes the views, then performs one legal change chosen at
// random. Value: the change ("remove" or "add", or "none" with a reason),
// its member and the node it ran on, the commands' output, the views, the
// members before the change, and the pending, resolved and expired
// changes.
func (m *membership) start(ctx context.Context) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touched = true
	views, resolved, expired := m.refresh(ctx)
	members := m.st.members()
	m.n.rngMu.Lock()
	c, ok := m.st.choose(m.n.rng)
	m.n.rngMu.Unlock()
	var v map[string]any
	var err error
	if !ok {
		v = map[string]any{"change": "none", "reason": m.noChangeReason(members)}
	} else {
		v, err = m.perform(ctx, c, m.st.runners(c.Node), m.st.after(c))
	}
	v["views"] = views
	v["members"] = orEmpty(members)
	v["pending"] = m.st.pendingValue()
	v["resolved"] = changesValue(resolved)
	v["expired"] = changesValue(expired)
	return v, err
}

func (m *membership) noChangeReason(members []string) string {
	if members == nil {
		return "no node reported a view that includes itself"
	}
	if len(m.st.pending) > 0 {
		return fmt.Sprintf("every node is at min_members (%d) or has a pending change", m.st.min)
	}
	return fmt.Sprintf("the cluster is at min_members (%d) and every node is a member", m.st.min)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// stop adds back every node that is out. Value: node → the add's output
// (or its error), the views before, and the members after.
func (m *membership) stop(ctx context.Context) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addBack(ctx)
}

func (m *membership) addBack(ctx context.Context) (any, error) {
	views, resolved, expired := m.refresh(ctx)
	cur := m.st.members()
	if cur == nil {
		return map[string]any{"views": views}, errors.New("membership: no node reported a view that includes itself; cannot add nodes back")
	}
	added := map[string]any{}
	var errs []error
	for _, node := range m.st.out() {
		// A change already pending for the node is superseded: the heal
		// wants it in, whatever became of that change.
		var keep []memberChange
		for _, c := range m.st.pending {
			if c.Node != node {
				keep = append(keep, c)
			}
		}
		m.st.pending = keep
		var runners []string
		for _, n := range cur {
			if _, ok := m.st.views[n]; ok {
				runners = append(runners, n)
			}
		}
		if len(runners) == 0 {
			errs = append(errs, fmt.Errorf("no reachable member can add %s", node))
			continue
		}
		// Each add counts the ones before it in.
		var next []string
		for _, n := range m.n.nodes {
			if n == node || contains(cur, n) {
				next = append(next, n)
			}
		}
		v, err := m.perform(ctx, memberChange{Kind: "add", Node: node}, runners, next)
		if err != nil {
			added[node] = "error: " + err.Error()
			errs = append(errs, err)
		} else {
			added[node] = v["output"]
		}
		cur = next
	}
	return map[string]any{
		"added": added, "views": views, "members": orEmpty(cur),
		"pending": m.st.pendingValue(), "resolved": changesValue(resolved), "expired": changesValue(expired),
	}, errors.Join(errs...)
}

// heal adds every node back if this fault ever changed the membership.
func (m *membership) heal(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.touched {
		return nil
	}
	_, err := m.addBack(ctx)
	return err
}
