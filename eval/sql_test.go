package eval_test

import (
	"testing"

	"github.com/jplan/jplan/eval"
)

// TestSQLParams: the sql client binds as many parameters as a statement
// uses, so the count must skip a $n that is text, not a parameter.
func TestSQLParams(t *testing.T) {
	cases := []struct {
		sql  string
		want int
	}{
		{"SELECT 1", 0},
		{"SELECT v FROM t WHERE k = $1", 1},
		{"UPDATE t SET v = $2 WHERE k = $1", 2},
		{"SELECT $10, $3", 10},
		{"SELECT '$5' || $1", 1},
		{"SELECT 'it''s $4', $2", 2},
		{`SELECT "col$3" FROM t WHERE k = $1`, 1},
		{"SELECT $1 -- and $7\n, $2", 2},
		{"SELECT /* $9 */ $1", 1},
		{"SELECT $$ $8 $$, $1", 1},
		{"SELECT $tag$ $8 $tag$ || $2", 2},
		{"SELECT price$1 FROM t", 0}, // an identifier: PostgreSQL allows $ in one
		{"SELECT a$b$ FROM t WHERE k = $1", 1},
		{"SELECT 'unterminated $3", 0},
	}
	for _, c := range cases {
		if got := eval.SQLParams(c.sql); got != c.want {
			t.Errorf("SQLParams(%q) = %d, want %d", c.sql, got, c.want)
		}
	}
}
