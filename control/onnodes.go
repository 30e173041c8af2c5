package control

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
)

// OnNodes runs fn on every remote at once and waits for all of them. It
// returns nil if every call succeeded, or a *NodesError naming each node
// that failed. One node's failure does not cancel the others: setup and
// teardown should get as far as they can everywhere, and the caller sees
// the whole picture.
func OnNodes(ctx context.Context, remotes []Remote, fn func(ctx context.Context, r Remote) error) error {
	_, err := OnNodesMap(ctx, remotes, func(ctx context.Context, r Remote) (struct{}, error) {
		return struct{}{}, fn(ctx, r)
	})
	return err
}

// OnNodesMap is OnNodes for functions that return a value; the map holds
// the values of the nodes that succeeded, keyed by node name.
func OnNodesMap[T any](ctx context.Context, remotes []Remote, fn func(ctx context.Context, r Remote) (T, error)) (map[string]T, error) {
	vals := make([]T, len(remotes))
	errs := make([]error, len(remotes))
	var wg sync.WaitGroup
	for i, r := range remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic on one node must not take down the process while the
			// other nodes are mid-operation; report it like any failure.
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				}
			}()
			vals[i], errs[i] = fn(ctx, r)
		}()
	}
	wg.Wait()
	out := make(map[string]T, len(remotes))
	var ne NodesError
	ne.Total = len(remotes)
	for i, r := range remotes {
		if errs[i] != nil {
			ne.Failures = append(ne.Failures, NodeFailure{Node: r.Node(), Err: errs[i]})
			continue
		}
		out[r.Node()] = vals[i]
	}
	if len(ne.Failures) > 0 {
		return out, &ne
	}
	return out, nil
}

// NodesError lists the nodes on which an OnNodes function failed, in the
// order the nodes were given.
type NodesError struct {
	Total    int
	Failures []NodeFailure
}

// NodeFailure is one node's error.
type NodeFailure struct {
	Node string
	Err  error
}

func (e *NodesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d nodes failed:", len(e.Failures), e.Total)
	for _, f := range e.Failures {
		msg := f.Err.Error()
		// Most errors already start with the node name; don't repeat it.
		msg = strings.TrimPrefix(msg, f.Node+": ")
		fmt.Fprintf(&b, "\n  %s: %s", f.Node, strings.ReplaceAll(msg, "\n", "\n    "))
	}
	return b.String()
}

// Unwrap exposes every node's error to errors.Is and errors.As.
func (e *NodesError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f.Err
	}
	return errs
}

// Failed returns the names of the nodes that failed.
func (e *NodesError) Failed() []string {
	names := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		names[i] = f.Node
	}
	return names
}
