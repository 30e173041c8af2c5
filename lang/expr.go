package lang

import "github.com/hashicorp/hcl/v2"

// expr returns the expression of an optional argument, or nil when the
// argument is absent. Absent and null are different: a plan may write
// `seed = null` to mean "the default" explicitly, and eval treats both alike.
func expr(c *hcl.BodyContent, name string) hcl.Expression {
	if a, ok := c.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

// blocksOf returns the nested blocks of one type, in source order.
func blocksOf(c *hcl.BodyContent, typ string) []*hcl.Block {
	var out []*hcl.Block
	for _, b := range c.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}
