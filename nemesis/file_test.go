package nemesis

import (
	"strings"
	"testing"

	"github.com/jplan/jplan/eval"
)

func TestBuildFileChecks(t *testing.T) {
	n := &Nemesis{}
	for _, tc := range []struct {
		fc   eval.FaultConfig
		want string
	}{
		{eval.FaultConfig{Path: "/x"}, "needs action"},
		{eval.FaultConfig{Action: "shred", Path: "/x"}, "unknown file action"},
		{eval.FaultConfig{Action: "bitflip", Path: "data"}, "absolute path"},
		{eval.FaultConfig{Action: "snapshot", Path: "/"}, "absolute path"},
		{eval.FaultConfig{Action: "truncate", Path: "/x"}, "bytes"},
		{eval.FaultConfig{Action: "bitflip", Path: "/x", Prob: 2}, "probability"},
	} {
		if _, err := buildFile(n, tc.fc, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.fc, err, tc.want)
		}
	}
	f, err := buildFile(n, eval.FaultConfig{Name: "my rewind", Action: "snapshot", Path: "/var/lib/kv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.(*fileFault).store; !strings.HasPrefix(s, "/var/lib/jplan/snapshots/fault-") {
		t.Errorf("store for an unsafe name: %s", s)
	}
	if s := storeName("rewind"); s != "rewind" {
		t.Errorf("store name %s", s)
	}
}
