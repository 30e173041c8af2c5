package nemesis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// File faults damage or rewind a file or directory on the targets through
// jplan-agent:
//
//   - bitflip: each byte flips one random bit with the fault's probability,
//     from a seed drawn from the test's seed (recorded in the value);
//   - truncate: the last `bytes` bytes of each file are cut off;
//   - snapshot: start copies the path to /var/lib/jplan/snapshots/<fault>/,
//     stop puts that copy back on the nodes where it was taken (a rewind);
//   - restore: start puts back the newest snapshot of the path taken by any
//     snapshot fault.
//
// bitflip, truncate and restore cannot be undone: their stop does nothing.
// Heal removes the snapshots a snapshot fault took.

func init() { registerBuilder("file", buildFile) }

const (
	snapshotRoot = "/var/lib/jplan/snapshots"
	fileTimeout  = 10 * time.Minute
)

type fileFault struct {
	n      *Nemesis
	cfg    eval.FaultConfig
	agents *nodeAgents
	store  string // snapshot: where this fault keeps its copy

	mu    sync.Mutex
	taken map[string]bool // snapshot: nodes holding a snapshot not yet put back
}

func buildFile(n *Nemesis, fc eval.FaultConfig, _ DaemonLookup) (fault, error) {
	switch fc.Action {
	case "bitflip", "truncate", "snapshot", "restore":
	case "":
		return nil, errors.New(`a file fault needs action = "bitflip", "truncate", "snapshot" or "restore"`)
	default:
		return nil, fmt.Errorf("unknown file action %q (bitflip, truncate, snapshot or restore)", fc.Action)
	}
	if fc.Path == "" || !path.IsAbs(fc.Path) || path.Clean(fc.Path) == "/" {
		return nil, fmt.Errorf("a file fault needs an absolute path other than /, not %q", fc.Path)
	}
	if fc.Action == "bitflip" && (fc.Prob < 0 || fc.Prob > 1) {
		return nil, fmt.Errorf("probability %g is not between 0 and 1", fc.Prob)
	}
	if fc.Action == "truncate" && fc.Bytes < 1 {
		return nil, fmt.Errorf("truncate needs bytes ≥ 1, not %d", fc.Bytes)
	}
	return &fileFault{n: n, cfg: fc, agents: newNodeAgents(), store: snapshotRoot + "/" + storeName(fc.Name), taken: map[string]bool{}}, nil
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// storeName is a fault's snapshot directory name: its own name when that
// is a safe file name, else a hash of it.
func storeName(name string) string {
	if safeName.MatchString(name) && len(name) <= 100 {
		return name
	}
	h := sha256.Sum256([]byte(name))
	return "fault-" + hex.EncodeToString(h[:])[:16]
}

// start performs the action on freshly chosen targets. Value: node → what
// the agent did, e.g. {"files": 1, "bytes": 4096, "flipped": 41, "seed": …}
// for bitflip, {"files": 1, "before": 4096, "after": 4000} for truncate.
func (f *fileFault) start(ctx context.Context) (any, error) {
	targets, err := f.n.targets(f.cfg.Targets)
	if err != nil {
		return nil, err
	}
	// Seeds are drawn in node order before anything runs in parallel, so
	// the same test seed flips the same bits.
	seeds := map[string]uint64{}
	if f.cfg.Action == "bitflip" {
		f.n.rngMu.Lock()
		for _, node := range targets {
			seeds[node] = f.n.rng.Uint64()
		}
		f.n.rngMu.Unlock()
	}
	rs := make([]control.Remote, 0, len(targets))
	for _, node := range targets {
		rs = append(rs, f.n.remotes[node])
	}
	return control.OnNodesMap(ctx, rs, func(ctx context.Context, r control.Remote) (any, error) {
		args := []string{"file", f.cfg.Action, "--path", f.cfg.Path}
		switch f.cfg.Action {
		case "bitflip":
			args = append(args, "--prob", strconv.FormatFloat(f.cfg.Prob, 'g', -1, 64), "--seed", strconv.FormatUint(seeds[r.Node()], 10))
		case "truncate":
			args = append(args, "--bytes", strconv.Itoa(f.cfg.Bytes))
		case "snapshot":
			args = append(args, "--store", f.store)
		case "restore":
			args = append(args, "--search", snapshotRoot)
		}
		res, err := f.agents.call(ctx, r, fileTimeout, args...)
		if err != nil {
			return nil, err
		}
		switch f.cfg.Action {
		case "bitflip":
			res["seed"] = strconv.FormatUint(seeds[r.Node()], 10)
		case "snapshot":
			delete(res, "store")
			f.mu.Lock()
			f.taken[r.Node()] = true
			f.mu.Unlock()
		}
		return res, nil
	})
}

// stop rewinds a snapshot fault: each node where start took a snapshot
// gets it back. Value: node → {"files", "bytes", "from", "taken"}; "not
// started" when no snapshot is waiting. Other actions: "nothing to undo".
func (f *fileFault) stop(ctx context.Context) (any, error) {
	if f.cfg.Action != "snapshot" {
		return "nothing to undo", nil
	}
	f.mu.Lock()
	var rs []control.Remote
	for _, node := range f.n.nodes {
		if f.taken[node] {
			rs = append(rs, f.n.remotes[node])
		}
	}
	f.mu.Unlock()
	if len(rs) == 0 {
		return "not started", nil
	}
	return control.OnNodesMap(ctx, rs, func(ctx context.Context, r control.Remote) (any, error) {
		res, err := f.agents.call(ctx, r, fileTimeout, "file", "restore", "--path", f.cfg.Path, "--store", f.store)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		delete(f.taken, r.Node())
		f.mu.Unlock()
		return res, nil
	})
}

// heal removes a snapshot fault's snapshots from every node. It restores
// nothing: the snapshot itself changed no data.
func (f *fileFault) heal(ctx context.Context) error {
	if f.cfg.Action != "snapshot" {
		return nil
	}
	_, err := f.n.onNodes(ctx, f.n.nodes, func(ctx context.Context, r control.Remote) (string, error) {
		_, err := r.Exec(ctx, control.Command{Argv: []string{"rm", "-rf", f.store, f.store + ".new"}, Timeout: fileTimeout})
		if err == nil {
			f.mu.Lock()
			delete(f.taken, r.Node())
			f.mu.Unlock()
		}
		return "", err
	})
	return err
}
