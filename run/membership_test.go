package run_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/run"
	"github.com/jplan/jplan/verdict"
)

// membershipPlan is etcd with a membership fault through etcd's v3 JSON
// API: view lists the peer URLs a node knows, remove finds the member's
// ID by its peer URL, add announces the new member, and reset wipes the
// joining node and starts it with --initial-cluster-state existing and the
// members after the add (the pidfile as jplan's daemon wrapper keeps it,
// so teardown stops it). A custom fault "count" records how many members
// every node sees.
const membershipPlan = `
locals {
  data_dir = "/var/lib/jplan/etcd-members"
  key_b64  = base64encode("members-register")
  api      = "http://127.0.0.1:2379/v3/cluster/member"
}

test "etcd-membership" {
  concurrency = "1n"
  seed        = 5
}

os "debian" {
  packages = ["etcd-server", "curl", "python3"]
}

db "etcd" {
  install {
    packages = ["etcd-server"]
  }
  daemon "etcd" {
    command = "/usr/bin/etcd"
    args = [
      "--name", node.name,
      "--data-dir", local.data_dir,
      "--listen-client-urls", "http://0.0.0.0:2379",
      "--advertise-client-urls", "http://${node.host}:2379",
      "--listen-peer-urls", "http://0.0.0.0:2380",
      "--initial-advertise-peer-urls", "http://${node.host}:2380",
      "--initial-cluster", join(",", [for n in nodes : "${n.name}=http://${n.host}:2380"]),
      "--initial-cluster-state", "new",
    ]
    pidfile = "/var/run/etcd-members.pid"
    logfile = "/var/log/etcd-members.log"
    ready {
      tcp_port = 2379
      timeout  = "60s"
    }
  }
  teardown  = ["rm -rf ${local.data_dir}"]
  log_files = ["/var/log/etcd-members.log"]
}

client "http" {
  base_url = "http://${node.host}:2379"
  timeout  = "1s"
}

operation "read" {
  request {
    method = "POST"
    path   = "/v3/kv/range"
    body   = jsonencode({ key = local.key_b64 })
  }
  result = {
    type  = response.status == 200 ? "ok" : "fail"
    value = try(tonumber(base64decode(response.json.kvs[0].value)), null)
  }
}

operation "write" {
  value = random_int(0, 4)
  request {
    method = "POST"
    path   = "/v3/kv/put"
    body   = jsonencode({ key = local.key_b64, value = base64encode(tostring(op.value)) })
  }
  result = { type = response.status == 200 ? "ok" : "info" }
}

fault "members" {
  type   = "membership"
  view   = "curl -sf -m 5 -XPOST ${local.api}/list | grep -o 'http://[0-9.]*:2380' | sort -u"
  add    = "curl -sf -m 10 -XPOST ${local.api}/add -d '${jsonencode({ peerURLs = ["http://${member.host}:2380"] })}'"
  remove = <<-EOT
    id=$(curl -sf -m 5 -XPOST ${local.api}/list | python3 -c 'import json, sys; print([m["ID"] for m in json.load(sys.stdin)["members"] if "http://${member.host}:2380" in m.get("peerURLs", [])][0])')
    curl -sf -m 10 -XPOST ${local.api}/remove -d "{\"ID\": \"$id\"}"
  EOT
  reset = <<-EOT
    pid=$(cat /var/run/etcd-members.pid 2>/dev/null)
    if [ -n "$pid" ]; then kill -9 -- -"$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null; fi
    for i in $(seq 50); do pgrep -x etcd >/dev/null || break; sleep 0.1; done
    rm -rf ${local.data_dir}
    setsid sh -c 'echo $$ >/var/run/etcd-members.pid; exec /usr/bin/etcd --name ${node.name} --data-dir ${local.data_dir} --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://${node.host}:2379 --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls http://${node.host}:2380 --initial-cluster ${join(",", [for m in members : "${m.name}=http://${m.host}:2380"])} --initial-cluster-state existing' >>/var/log/etcd-members.log 2>&1 </dev/null &
    echo started
  EOT
}

fault "count" {
  type    = "custom"
  targets = "all"
  start   = "curl -sf -m 5 -XPOST ${local.api}/list | grep -o 'http://[0-9.]*:2380' | sort -u | wc -l"
  stop    = "true"
}

phase "main" {
  time_limit = "55s"
  clients    = stagger("20ms", mix([operation.read, operation.write]))
  nemesis = [
    # etcd refuses reconfiguration until its members have been connected
    # for 5 s.
    sleep("8s"), fault.count.start, fault.members.start,
    sleep("5s"), fault.count.start, fault.members.stop,
    sleep("8s"), fault.count.start, fault.members.start,
    sleep("5s"), fault.count.start, fault.members.stop,
    sleep("8s"), fault.count.start,
  ]
}

phase "final" {
  clients = each_thread(once(operation.read))
}

checker "linearizable" {
  model = "cas-register"
}
`

// TestEtcdMembershipOnCluster runs a membership fault on a real etcd
// cluster: each start removes a member (the member list shrinks to two),
// each stop adds it back (the list is full again and the rejoined node
// serves reads at the end), writes succeed between every two nemesis
// operations, and the history is linearizable.
func TestEtcdMembershipOnCluster(t *testing.T) {
	info := env.Need(t)
	plan := filepath.Join(t.TempDir(), "members.hcl")
	if err := os.WriteFile(plan, []byte(membershipPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run.Run(context.Background(), run.Options{Path: plan, NodesFile: info.NodesFile, Store: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Valid != checker.True {
		t.Fatalf("verdict %v: %+v", out.Result.Valid, out.Result.Results["linearizable"])
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// The nemesis completions, in order, and the ok writes between them.
	var nem []history.Op
	var writes []int
	okWrites := 0
	for _, op := range h {
		if op.Process == history.NemesisProcess && op.Type != history.Invoke {
			nem = append(nem, op)
			writes = append(writes, okWrites)
			okWrites = 0
			continue
		}
		if op.F == "write" && op.Type == history.OK {
			okWrites++
		}
	}
	writes = append(writes, okWrites)
	var fs []string
	for _, op := range nem {
		fs = append(fs, op.F)
	}
	want := "start-count start-members start-count stop-members start-count start-members start-count stop-members start-count"
	if strings.Join(fs, " ") != want {
		t.Fatalf("nemesis ops %v", fs)
	}
	// Every sleep of the nemesis — with the full cluster, one member
	// removed, and after adding it back — saw writes succeed.
	for _, i := range []int{0, 2, 4, 6, 8} {
		if writes[i] == 0 {
			t.Errorf("no write succeeded in the %d s before nemesis op %d (%s): the cluster stopped serving", []int{8, 5, 8, 5, 8}[i/2], i, fs[i])
		}
	}
	t.Logf("ok writes between nemesis ops: %v", writes)
	// counts reads a count op's value: node → members it sees.
	counts := func(op history.Op) map[string]int {
		out := map[string]int{}
		v, _ := op.Value.(map[string]any)
		for n, c := range v {
			s, _ := c.(string)
			if k, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
				out[n] = k
			}
		}
		return out
	}
	removed := map[int]string{}
	for _, i := range []int{1, 5} {
		v, _ := nem[i].Value.(map[string]any)
		if v["change"] != "remove" || nem[i].Error != "" {
			t.Fatalf("%s: %v (error %q), want a removal", fs[i], v, nem[i].Error)
		}
		removed[i] = v["member"].(string)
		t.Logf("%s: removed %v on %v; members before %v", fs[i], v["member"], v["on"], v["members"])
	}
	for _, i := range []int{2, 6} {
		c := counts(nem[i])
		two := 0
		for n, k := range c {
			if n != removed[i-1] && k == 2 {
				two++
			}
		}
		if two != 2 {
			t.Errorf("after removing %s the members see %v members, want 2 on both remaining nodes", removed[i-1], c)
		}
	}
	for _, i := range []int{3, 7} {
		v, _ := nem[i].Value.(map[string]any)
		added, _ := v["added"].(map[string]any)
		if _, ok := added[removed[i-2]]; !ok || nem[i].Error != "" {
			t.Errorf("%s: %v (error %q), want %s added back", fs[i], v, nem[i].Error, removed[i-2])
		}
		if ms, _ := v["members"].([]any); len(ms) != 3 {
			t.Errorf("%s: members after %v, want all three", fs[i], v["members"])
		}
	}
	for _, i := range []int{4, 8} {
		if c := counts(nem[i]); len(c) != 3 || c["n1"] != 3 || c["n2"] != 3 || c["n3"] != 3 {
			t.Errorf("after adding back: members seen %v, want 3 on every node", c)
		}
	}
	// The final reads, one per node: every node serves, the rejoined ones
	// included.
	finalOK := map[int]bool{}
	for _, op := range h[len(h)-6:] {
		if op.F == "read" && op.Type == history.OK {
			finalOK[op.Process] = true
		}
	}
	if len(finalOK) != 3 {
		t.Errorf("final reads ok on %d of 3 nodes: %v", len(finalOK), h[len(h)-6:])
	}
}
