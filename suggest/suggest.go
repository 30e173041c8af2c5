// Package suggest finds the name a person probably meant: the "did you
// mean" of the command line's flags and of the plan's enumerated values.
package suggest

// Closest returns the candidate nearest to name — within max edits
// (insertions, deletions, substitutions), or one that name is a prefix
// of — or "" when none is that close. Ties go to the alphabetically first.
func Closest(name string, candidates []string, max int) string {
	best, bestD := "", max+1
	for _, c := range candidates {
		d := Distance(name, c)
		if len(name) > 0 && len(c) > len(name) && c[:len(name)] == name && d > 1 {
			d = 1
		}
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD > max {
		return ""
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
