package suggest

import "testing"

func TestClosest(t *testing.T) {
	models := []string{"read-committed", "repeatable-read", "serializable", "snapshot-isolation", "strict-serializable"}
	for in, want := range map[string]string{
		"serialisable":  "serializable",
		"seriali":       "serializable", // a prefix
		"read-comitted": "read-committed",
		"snapshot":      "snapshot-isolation",
		"linearizable":  "",
		"":              "",
	} {
		if got := Closest(in, models, 2); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if Distance("kitten", "sitting") != 3 || Distance("", "abc") != 3 || Distance("same", "same") != 0 {
		t.Error("Levenshtein distances are wrong")
	}
}
