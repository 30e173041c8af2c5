package runner

import (
	"sort"
	"strings"

	"github.com/jplan/jplan/history"
)

// DefaultFaultOf reads Jepsen's nemesis naming conventions: "start-X"
// begins fault X and "stop-X" ends it; kill/start, pause/resume and
// partition/heal are the classic pairs; "heal" ends every partition. An op
// that completed as fail changes nothing; info counts (the fault may have
// happened).
func DefaultFaultOf(op history.Op) (fault string, active, ok bool) {
	f := op.F
	switch {
	case strings.HasPrefix(f, "start-"):
		return strings.TrimPrefix(f, "start-"), true, true
	case strings.HasPrefix(f, "stop-"):
		return strings.TrimPrefix(f, "stop-"), false, true
	}
	switch f {
	case "kill":
		return "kill", true, true
	case "start", "restart":
		return "kill", false, true
	case "pause":
		return "pause", true, true
	case "resume":
		return "pause", false, true
	case "partition":
		return "partition", true, true
	case "heal":
		return "partition", false, true
	}
	return "", false, false
}

// faultSet tracks active faults for progress reports.
type faultSet struct {
	of     func(history.Op) (string, bool, bool)
	active map[string]bool
}

func (s *faultSet) observe(op history.Op) {
	if op.Type == history.Fail || op.Type == history.Invoke {
		return
	}
	name, on, ok := s.of(op)
	if !ok {
		return
	}
	if s.active == nil {
		s.active = map[string]bool{}
	}
	if on {
		s.active[name] = true
	} else {
		delete(s.active, name)
	}
}

func (s *faultSet) list() []string {
	if len(s.active) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.active))
	for k := range s.active {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
