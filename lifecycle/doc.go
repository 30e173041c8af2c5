// Package lifecycle sets up and tears down what a test runs on: the
// operating system (packages, /etc/hosts, setup commands) and the databases
// (install, files, daemons, readiness, setup, primary setup, teardown, log
// collection), in Jepsen's run! order:
//
//	OSSetup → DBCycle (DBTeardown, then DBSetup with retries and primary
//	setup) → … test … → DownloadLogs → DBTeardown → OSTeardown
//
// Every function takes the remotes of all nodes and works on them in
// parallel; per-node configuration comes in maps keyed by node name,
// because plans evaluate os and db blocks once per node.
//
// Daemons are started by a small shell wrapper, not by the node's init
// system: jplan must be able to kill, pause and restart them on any Linux
// box, container or not. The wrapper records the daemon's own PID in its
// pidfile, so the nemesis (package nemesis) can signal exactly that process
// through StartDaemon, StopDaemon, SignalDaemon and DaemonStatus.
//
// Errors name the node, the database and the step, e.g.
//
//	n3: db etcd: install: apt-get install etcd-server: exit 100: E: Unable to locate package
package lifecycle
