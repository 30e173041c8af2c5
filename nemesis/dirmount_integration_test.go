package nemesis

// Helpers shared by the integration tests of the faults that put a
// directory on a mount of their own (filesystem, flakey).

import (
	"context"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lifecycle"
)

// addDirDaemon adds db with daemon name, which works in dir (its working
// directory) appending a line to the file ticks there every period
// seconds, and starts it on every node. Before, it stops the daemon a
// failed test may have left and runs prepare, which readies dir; when the
// test ends it stops the daemon and runs clean. Its pidfile and log are
// named after file.
func (c *testCluster) addDirDaemon(t *testing.T, db, name, file, dir, period, prepare, clean string) {
	t.Helper()
	for _, node := range c.nodes {
		d := eval.DaemonConfig{Name: name, Command: "sh", Dir: dir,
			Args:    []string{"-c", "while :; do echo tick >> ticks; sleep " + period + "; done"},
			Pidfile: "/var/run/jplan-nem-" + file + ".pid", Logfile: "/var/log/jplan-nem-" + file + ".log"}
		c.dbs[node.Name] = append(c.dbs[node.Name], eval.DBConfig{Name: db, Daemons: []eval.DaemonConfig{d}})
		r := c.byName[node.Name]
		lifecycle.StopDaemon(context.Background(), r, d, time.Second)
		c.sh(t, node.Name, prepare)
		if _, err := lifecycle.StartDaemon(context.Background(), r, d); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			lifecycle.StopDaemon(context.Background(), r, d, time.Second)
			r.Exec(context.Background(), control.Command{Script: clean, Timeout: time.Minute})
		})
	}
}

// pidOf is the pid of a daemon on a node, 0 when it is not running.
func (c *testCluster) pidOf(t *testing.T, node, db, daemon string) int {
	t.Helper()
	d, _ := DaemonsOf(c.dbs)(node, db, daemon)
	st, err := lifecycle.DaemonStatus(context.Background(), c.byName[node], d)
	if err != nil {
		t.Fatal(err)
	}
	return st.PID
}
