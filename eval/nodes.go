package eval

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Node is one machine of the cluster under test.
type Node struct {
	// Name is how the plan and the history refer to the node ("n1").
	Name string
	// Host is the address jplan and clients connect to; Name when not given.
	Host string
	// Port is the SSH port; 0 means the ssh block's port (default 22).
	Port int
	// User overrides the ssh block's user when set.
	User  string
	Index int
}

// NodeType is the type of node and of each element of nodes in plan
// expressions.
var NodeType = cty.Object(map[string]cty.Type{
	"name":  cty.String,
	"host":  cty.String,
	"port":  cty.Number,
	"index": cty.Number,
})

// Value is the node as plan expressions see it.
func (n Node) Value() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":  cty.StringVal(n.Name),
		"host":  cty.StringVal(n.Host),
		"port":  cty.NumberIntVal(int64(n.Port)),
		"index": cty.NumberIntVal(int64(n.Index)),
	})
}

// ParseNodeList reads --nodes: comma-separated names, each optionally
// name=host or name=host:port.
func ParseNodeList(s string) ([]Node, error) {
	var out []Node
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n := Node{Name: part, Host: part, Index: i}
		if name, host, ok := strings.Cut(part, "="); ok {
			n.Name, n.Host = name, host
		}
		if h, p, ok := strings.Cut(n.Host, ":"); ok {
			port, err := strconv.Atoi(p)
			if err != nil || port <= 0 || port > 65535 {
				return nil, fmt.Errorf("node %q: invalid port %q", n.Name, p)
			}
			n.Host, n.Port = h, port
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no nodes in %q", s)
	}
	return reindex(out)
}

func reindex(nodes []Node) ([]Node, error) {
	seen := map[string]bool{}
	for i := range nodes {
		nodes[i].Index = i
		if nodes[i].Host == "" {
			nodes[i].Host = nodes[i].Name
		}
		if seen[nodes[i].Name] {
			return nil, fmt.Errorf("node %q is listed twice", nodes[i].Name)
		}
		seen[nodes[i].Name] = true
	}
	return nodes, nil
}

// nodesFromValue converts test.nodes: a list of names, or of objects with
// name and optionally host, port and user.
func nodesFromValue(v cty.Value, rng hcl.Range) ([]Node, hcl.Diagnostics) {
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid nodes", Detail: detail, Subject: rng.Ptr()}}
	}
	if v.IsNull() {
		return nil, bad("nodes must be a list of node names or node objects, not null.")
	}
	if !v.CanIterateElements() || v.Type().IsMapType() || v.Type().IsObjectType() {
		return nil, bad(fmt.Sprintf("nodes must be a list of node names or node objects, not %s.", v.Type().FriendlyName()))
	}
	var out []Node
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		switch {
		case ev.IsNull():
			return nil, bad(fmt.Sprintf("Element %d of nodes is null.", i))
		case ev.Type() == cty.String:
			out = append(out, Node{Name: ev.AsString(), Host: ev.AsString()})
		case ev.Type().IsObjectType() || ev.Type().IsMapType():
			var n Node
			get := func(k string) (cty.Value, bool) {
				if ev.Type().IsObjectType() && !ev.Type().HasAttribute(k) {
					return cty.NilVal, false
				}
				var x cty.Value
				if ev.Type().IsObjectType() {
					x = ev.GetAttr(k)
				} else {
					if !ev.HasIndex(cty.StringVal(k)).True() {
						return cty.NilVal, false
					}
					x = ev.Index(cty.StringVal(k))
				}
				return x, !x.IsNull()
			}
			for _, k := range objectKeys(ev) {
				switch k {
				case "name", "host", "port", "user":
				default:
					return nil, bad(fmt.Sprintf("Element %d of nodes has an unexpected attribute %q; a node object takes name, host, port and user.", i, k))
				}
			}
			nv, ok := get("name")
			if !ok || nv.Type() != cty.String {
				return nil, bad(fmt.Sprintf("Element %d of nodes needs a name string.", i))
			}
			n.Name = nv.AsString()
			if hv, ok := get("host"); ok && hv.Type() == cty.String {
				n.Host = hv.AsString()
			}
			if uv, ok := get("user"); ok && uv.Type() == cty.String {
				n.User = uv.AsString()
			}
			if pv, ok := get("port"); ok {
				p, err := intOf(pv)
				if err != nil || p <= 0 || p > 65535 {
					return nil, bad(fmt.Sprintf("Element %d of nodes has an invalid port.", i))
				}
				n.Port = p
			}
			out = append(out, n)
		default:
			return nil, bad(fmt.Sprintf("Element %d of nodes is %s; expected a node name or an object {name, host, port, user}.", i, ev.Type().FriendlyName()))
		}
	}
	if len(out) == 0 {
		return nil, bad("nodes is empty; a test needs at least one node.")
	}
	out, err := reindex(out)
	if err != nil {
		return nil, bad(err.Error() + ".")
	}
	return out, nil
}

func objectKeys(v cty.Value) []string {
	var out []string
	if v.Type().IsObjectType() {
		for k := range v.Type().AttributeTypes() {
			out = append(out, k)
		}
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out = append(out, k.AsString())
	}
	return out
}
