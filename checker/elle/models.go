package elle

import (
	"fmt"
	"sort"
	"strings"

	"github.com/jplan/jplan/suggest"
)

// The tables below restate, as data, the relations of Elle's
// consistency-model namespace: which anomalies imply which, which models
// imply which, and which anomalies each model forbids directly. Everything
// else (what a set of models prohibits, which models a set of anomalies
// rules out) is derived from them by graph search, as Elle does, so that
// our "not" and "also_not" agree with Elle's on the same anomalies.

// impliedAnomalies: a -> b when finding a means b is present as well.
var impliedAnomalies = map[string][]string{
	"G0":          {"G1c", "G0-process"},
	"G0-process":  {"G1c-process", "G0-realtime"},
	"G0-realtime": {"G1c-realtime"},

	"G1a":          {"G1"},
	"G1b":          {"G1"},
	"G1c":          {"G1", "G1c-process"},
	"G1c-process":  {"G1c-realtime", "G1-process"},
	"G1c-realtime": {"G1-realtime"},
	"G1":           {"G1-process"},
	"G1-process":   {"G1-realtime"},

	"G-single-item":          {"G-single", "G-single-item-process", "G-nonadjacent-item"},
	"G-single-item-process":  {"G-single-process", "G-single-item-realtime", "G-nonadjacent-item-process"},
	"G-single-item-realtime": {"G-single-realtime", "G-nonadjacent-item-realtime"},

	"G-single":          {"G-nonadjacent", "GSIb", "G-single-process"},
	"G-single-process":  {"G-nonadjacent-process", "G-single-realtime"},
	"G-single-realtime": {"G-nonadjacent-realtime"},

	"G-nonadjacent-item":          {"G-nonadjacent", "G2-item", "G-nonadjacent-item-process"},
	"G-nonadjacent-item-process":  {"G-nonadjacent-process", "G2-item-process", "G-nonadjacent-item-realtime"},
	"G-nonadjacent-item-realtime": {"G2-item-realtime", "G-nonadjacent-realtime"},

	"G-nonadjacent":          {"G2", "G-nonadjacent-process"},
	"G-nonadjacent-process":  {"G2-process", "G-nonadjacent-realtime"},
	"G-nonadjacent-realtime": {"G2-realtime"},

	"G2":               {"G2-process"},
	"G2-item":          {"G2", "G2-item-process"},
	"G2-item-process":  {"G2-process", "G2-item-realtime"},
	"G2-item-realtime": {"G2-realtime"},
	"G2-process":       {"G2-realtime"},

	"GSIa": {"GSI"},
	"GSIb": {"GSI"},

	"incompatible-order": {"G1a"},
	"future-read":        {"G1c"},
	"dirty-update":       {"G1a"},
	"lost-update":        {"write-skew", "G2-item"},
	"write-skew":         {"G2"},
}

// severity orders anomalies that do not imply one another, worst first;
// with impliedAnomalies it fixes the order in which cycles are searched.
var severity = map[string][]string{
	"G0":           {"G1c"},
	"G0-process":   {"G1c-process"},
	"G0-realtime":  {"G1c-realtime"},
	"G1c":          {"G-single", "G2-item"},
	"G1c-process":  {"G-single-process", "G2-item-process"},
	"G1c-realtime": {"G-single-realtime", "G2-item-realtime"},
	"G2":           {"G0-process"},
	"G2-process":   {"G0-realtime"},
}

// canonicalNames maps friendly model names to Adya's canonical ones.
var canonicalNames = map[string]string{
	"consistent-view":                 "PL-2+",
	"conflict-serializable":           "PL-3",
	"cursor-stability":                "PL-CS",
	"forward-consistent-view":         "PL-FCV",
	"monotonic-snapshot-read":         "PL-MSR",
	"monotonic-view":                  "PL-2L",
	"read-committed":                  "PL-2",
	"read-uncommitted":                "PL-1",
	"repeatable-read":                 "PL-2.99",
	"serializable":                    "PL-3",
	"snapshot-isolation":              "PL-SI",
	"strict-serializable":             "PL-SS",
	"strong-serializable":             "PL-SS",
	"update-serializable":             "PL-3U",
	"strong-session-read-uncommitted": "strong-session-PL-1",
	"strong-session-read-committed":   "strong-session-PL-2",
	"strong-read-uncommitted":         "strong-PL-1",
	"strong-read-committed":           "strong-PL-2",
}

// friendlyNames is the inverse; where two friendly names share a canonical
// one, Elle prints serializable and strong-serializable.
var friendlyNames = func() map[string]string {
	m := map[string]string{}
	for f, c := range canonicalNames {
		m[c] = f
	}
	m["PL-3"] = "serializable"
	m["PL-SS"] = "strong-serializable"
	return m
}()

func canonical(m string) string {
	if c, ok := canonicalNames[m]; ok {
		return c
	}
	return m
}

func friendly(m string) string {
	if f, ok := friendlyNames[m]; ok {
		return f
	}
	return m
}

// modelsRaw: a -> b when a history satisfying a also satisfies b. Vertex
// names are canonicalized when the graph is built.
var modelsRaw = map[string][]string{
	"causal-cerone":               {"read-atomic"},
	"consistent-view":             {"cursor-stability", "monotonic-view"},
	"conflict-serializable":       {"view-serializable"},
	"cursor-stability":            {"read-committed", "PL-2"},
	"forward-consistent-view":     {"consistent-view"},
	"PL-2":                        {"PL-1"},
	"PL-3":                        {"repeatable-read", "update-serializable"},
	"update-serializable":         {"forward-consistent-view"},
	"monotonic-atomic-view":       {"read-committed"},
	"monotonic-view":              {"PL-2"},
	"monotonic-snapshot-read":     {"PL-2"},
	"parallel-snapshot-isolation": {"causal-cerone", "update-atomic"},
	"prefix":                      {"causal-cerone"},
	"read-atomic":                 {"monotonic-atomic-view"},
	"read-committed":              {"read-uncommitted"},
	"repeatable-read":             {"cursor-stability", "monotonic-atomic-view"},
	"update-atomic":               {"read-atomic"},
	"serializable":                {"repeatable-read", "snapshot-isolation", "view-serializable"},
	"session-serializable":        {"1SR"},
	"snapshot-isolation": {"forward-consistent-view", "monotonic-atomic-view",
		"monotonic-snapshot-read", "parallel-snapshot-isolation", "prefix"},
	"strict-serializable": {"PL-3", "serializable", "linearizable", "snapshot-isolation",
		"strong-snapshot-isolation", "strong-session-serializable"},
	"strong-session-PL-1":               {"PL-1"},
	"strong-session-PL-2":               {"PL-2", "strong-session-PL-1"},
	"strong-PL-1":                       {"strong-session-PL-1"},
	"strong-PL-2":                       {"strong-session-PL-2", "strong-PL-1"},
	"strong-session-serializable":       {"serializable", "strong-session-snapshot-isolation"},
	"strong-session-snapshot-isolation": {"snapshot-isolation", "strong-session-PL-2"},
	"strong-serializable":               {"session-serializable"},
	"strong-snapshot-isolation":         {"strong-session-snapshot-isolation", "strong-PL-2"},
	"linearizable":                      {"sequential"},
	"sequential":                        {"causal"},
	"causal":                            {"writes-follow-reads", "PRAM"},
	"PRAM":                              {"monotonic-reads", "monotonic-writes", "read-your-writes"},
}

// proscribedRaw: the anomalies each model forbids beyond those of the
// models it implies.
var proscribedRaw = map[string][]string{
	"causal-cerone":               {"internal", "G1a"},
	"cursor-stability":            {"G1", "G-cursor", "lost-update"},
	"monotonic-view":              {"G1", "G-monotonic"},
	"monotonic-snapshot-read":     {"G1", "G-MSR"},
	"consistent-view":             {"G1", "G-single"},
	"forward-consistent-view":     {"G1", "G-SIb"},
	"parallel-snapshot-isolation": {"internal", "G1a"},
	"PL-3":                        {"G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"},
	"PL-2":                        {"G1", "PL-2-cycle-exists"},
	"PL-1":                        {"G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"},
	"prefix":                      {"internal", "G1a"},
	"serializable":                {"internal"},
	"snapshot-isolation":          {"internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"},
	"read-atomic":                 {"internal", "G1a", "future-read"},
	"repeatable-read":             {"G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"},
	"update-atomic":               {"lost-update"},
	"strict-serializable":         {"G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"},
	"strong-session-PL-1":         {"strong-session-PL-1-cycle-exists", "G0-process"},
	"strong-session-PL-2":         {"strong-session-PL-2-cycle-exists", "G1c-process"},
	"strong-PL-1":                 {"strong-PL-1-cycle-exists", "G0-realtime"},
	"strong-PL-2":                 {"strong-PL-2-cycle-exists", "G1c-realtime"},
	"strong-session-snapshot-isolation": {"internal", "G1-process", "G-nonadjacent-process",
		"strong-session-snapshot-isolation-cycle-exists"},
	"strong-snapshot-isolation": {"internal", "G1-realtime", "G-nonadjacent-realtime",
		"strong-snapshot-isolation-cycle-exists"},
	"strong-session-serializable": {"G1-process", "G2-process", "strong-session-serializable-cycle-exists"},
	"update-serializable":         {"G1", "G-update"},
}

// digraph is a small string graph with both directions indexed.
type digraph struct {
	out, in map[string][]string
	verts   map[string]bool
}

func newDigraph(edges map[string][]string, rename func(string) string) *digraph {
	g := &digraph{out: map[string][]string{}, in: map[string][]string{}, verts: map[string]bool{}}
	for a, bs := range edges {
		for _, b := range bs {
			g.add(rename(a), rename(b))
		}
	}
	return g
}

func (g *digraph) add(a, b string) {
	g.verts[a], g.verts[b] = true, true
	for _, x := range g.out[a] {
		if x == b {
			return
		}
	}
	g.out[a] = append(g.out[a], b)
	g.in[b] = append(g.in[b], a)
}

// reach returns the starts and everything reachable from them along next.
func reach(next map[string][]string, starts []string) map[string]bool {
	seen := map[string]bool{}
	stack := append([]string(nil), starts...)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v] {
			continue
		}
		seen[v] = true
		stack = append(stack, next[v]...)
	}
	return seen
}

func id(s string) string { return s }

var (
	anomalyGraph    = newDigraph(impliedAnomalies, id)
	modelGraph      = newDigraph(modelsRaw, canonical)
	proscribedGraph = newDigraph(proscribedRaw, canonical)
	allModels       = func() map[string]bool {
		m := map[string]bool{}
		for v := range modelGraph.verts {
			m[v] = true
		}
		for f, c := range canonicalNames {
			m[f], m[c] = true, true
		}
		return m
	}()
	anomalyDepth = computeDepths()
)

// computeDepths gives each anomaly its depth in the union of the
// implication and severity graphs (roots 0), as Elle's topo-depths does.
func computeDepths() map[string]int {
	g := newDigraph(impliedAnomalies, id)
	for a, bs := range severity {
		for _, b := range bs {
			g.add(a, b)
		}
	}
	depth := map[string]int{}
	indeg := map[string]int{}
	for v := range g.verts {
		indeg[v] = len(g.in[v])
	}
	var layer []string
	for v, d := range indeg {
		if d == 0 {
			layer = append(layer, v)
		}
	}
	for d := 0; len(layer) > 0; d++ {
		var next []string
		for _, v := range layer {
			depth[v] = d
			for _, w := range g.out[v] {
				indeg[w]--
				if indeg[w] == 0 {
					next = append(next, w)
				}
			}
		}
		layer = next
	}
	for _, as := range proscribedRaw {
		for _, a := range as {
			if _, ok := depth[a]; !ok {
				depth[a] = 0
			}
		}
	}
	return depth
}

// depthLess orders anomalies by depth, then name: Elle's search order.
func depthLess(a, b string) bool {
	da, db := anomalyDepth[a], anomalyDepth[b]
	if da != db {
		return da < db
	}
	return a < b
}

// Models returns every consistency model name Elle knows, sorted.
func Models() []string { return sortedKeys(allModels) }

// AnomalyTypes returns every anomaly name, sorted.
func AnomalyTypes() []string {
	m := map[string]bool{}
	for a := range anomalyDepth {
		m[a] = true
	}
	for _, a := range []string{"empty-transaction-graph", "cycle-search-timeout"} {
		m[a] = true
	}
	return sortedKeys(m)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidateModels returns an error naming the first unknown model and
// listing the known ones.
func ValidateModels(ms []string) error {
	for _, m := range ms {
		if !allModels[m] {
			hint := ""
			if s := suggest.Closest(m, Models(), 3); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			return fmt.Errorf("elle: unknown consistency model %q%s; known models are: %s",
				m, hint, strings.Join(Models(), ", "))
		}
	}
	return nil
}

// ValidateAnomalies returns an error naming the first unknown anomaly.
func ValidateAnomalies(as []string) error {
	known := map[string]bool{}
	for _, a := range AnomalyTypes() {
		known[a] = true
	}
	for v := range anomalyGraph.verts {
		known[v] = true
	}
	for _, a := range as {
		if !known[a] {
			return fmt.Errorf("elle: unknown anomaly %q; known anomalies are: %s",
				a, strings.Join(AnomalyTypes(), ", "))
		}
	}
	return nil
}

func canonicalAll(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = canonical(m)
	}
	return out
}

// ImpliedAnomalies returns as and every anomaly they imply.
func ImpliedAnomalies(as []string) map[string]bool {
	if len(as) == 0 {
		return map[string]bool{}
	}
	return reach(anomalyGraph.out, as)
}

// anomaliesImplying returns as and every anomaly that implies one of them.
func anomaliesImplying(as []string) map[string]bool {
	if len(as) == 0 {
		return map[string]bool{}
	}
	return reach(anomalyGraph.in, as)
}

// ProhibitedBy returns the anomalies that cannot occur if all the models
// hold.
func ProhibitedBy(models []string) map[string]bool {
	implied := reach(modelGraph.out, canonicalAll(models))
	var direct []string
	for m := range implied {
		direct = append(direct, proscribedGraph.out[m]...)
	}
	return anomaliesImplying(direct)
}

// ImpossibleModels returns the canonical models that the anomalies rule
// out.
func ImpossibleModels(as []string) map[string]bool {
	var ms []string
	for a := range ImpliedAnomalies(as) {
		ms = append(ms, proscribedGraph.in[a]...)
	}
	if len(ms) == 0 {
		return map[string]bool{}
	}
	return reach(modelGraph.in, canonicalAll(ms))
}

// Boundary returns Elle's :not (the weakest models the anomalies rule out)
// and :also-not (the other, stronger models ruled out), friendly names,
// sorted.
func Boundary(as []string) (not, alsoNot []string) {
	imp := ImpossibleModels(as)
	weakest := map[string]bool{}
	for m := range imp {
		down := reach(modelGraph.out, modelGraph.out[m])
		covered := false
		for d := range down {
			if d != m && imp[d] {
				covered = true
				break
			}
		}
		if !covered {
			weakest[m] = true
		}
	}
	n, a := map[string]bool{}, map[string]bool{}
	for m := range imp {
		if weakest[m] {
			n[friendly(m)] = true
		} else {
			a[friendly(m)] = true
		}
	}
	return sortedKeys(n), sortedKeys(a)
}
