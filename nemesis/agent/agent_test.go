package agent

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jplan/jplan/control"
)

// TestInstallLocal builds the agent from source and installs it on a
// "node" that is this machine, twice: the second install reuses it.
func TestInstallLocal(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain")
	}
	r := control.NewLocal("local")
	t.Setenv(DirEnv, "")
	p, err := Install(context.Background(), r, "jplan-agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
	if !strings.HasPrefix(p, RemoteDir+"/jplan-agent-") {
		t.Errorf("installed at %s", p)
	}
	out, err := exec.Command(p, "version").Output()
	if err != nil || !strings.Contains(string(out), "jplan-agent") {
		t.Fatalf("installed agent does not run: %v %s", err, out)
	}
	p2, err := Install(context.Background(), r, "jplan-agent")
	if err != nil || p2 != p {
		t.Errorf("second install: %s %v", p2, err)
	}
}
