// Package control runs commands and moves files on the nodes under test.
//
// A Remote is one node reached one way: over SSH (NewSSH), through the
// Docker engine (NewDocker), or on the control machine itself (NewLocal).
// Every Remote offers the same operations: Exec a command, Upload and
// Download files. Commands are either an argv, whose elements are quoted for
// /bin/sh by Quote so that no element is ever re-parsed by a shell, or a raw
// shell script. Each command may carry stdin, environment variables, a
// working directory, a timeout and sudo; on a node the command runs in its
// own process group under coreutils' timeout, so a timeout or a cancelled
// context kills everything the command started, not just the shell.
//
// The package knows nothing about test plans: callers map plan nodes to
// Remotes (see ReadNodesFile for the file jplan's local cluster writes) and
// use OnNodes to act on many nodes at once.
//
// Errors say which node and what went wrong. A command that ran and failed
// gives an *ExitError (node, command, exit status, tail of stderr). A node
// that could not be reached, refused our credentials or presented the wrong
// host key gives a *NodeError that matches ErrUnreachable, ErrAuth or
// ErrHostKey with errors.Is.
package control
