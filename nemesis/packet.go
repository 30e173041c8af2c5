package nemesis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// Packet faults degrade the traffic a node sends to the test's other nodes
// (not to the control machine: jplan's own SSH stays healthy). On each
// interface that leads to a peer, the root qdisc becomes an htb qdisc with
// jplan's handle, which lets unclassified traffic through untouched (htb
// "default 0"); u32 filters send packets for the peers to one class, whose
// leaf qdisc does the damage:
//
//	root 4a50: htb ── class 4a50:1 (10gbit) ── 4a51: netem delay … loss … rate …
//	  filter: dst <peer>/32 → 4a50:1             (or tbf rate … without netem)
//
// Where the kernel has no sch_netem (some container hosts), only two
// effects can still be had: loss, as iptables rules that drop packets for
// the peers at random (-m statistic), in a chain of the fault's own; and
// rate, as tbf in the band. Anything else fails with an error naming the
// node.

func init() { registerBuilder("packet", buildPacket) }

const (
	qdiscHandle   = "4a50:"
	qdiscClass    = "4a50:1"
	packetTimeout = time.Minute
	// packetChainPrefix is lower case so that the partition fault's heal,
	// which removes every chain named JPLAN…, leaves these alone (they are
	// jumped to from OUTPUT, which that heal does not clean).
	packetChainPrefix = "jplan-pkt-"
)

var netemKeys = []string{"delay", "jitter", "loss", "corrupt", "duplicate", "reorder", "rate"}

type packetFault struct {
	n     *Nemesis
	cfg   eval.FaultConfig
	chain string

	mu      sync.Mutex
	netem   map[string]string // node → "" when netem works, else why not
	applied map[string]bool
}

func buildPacket(n *Nemesis, fc eval.FaultConfig, _ DaemonLookup) (fault, error) {
	if len(fc.Netem) == 0 {
		return nil, errors.New("a packet fault needs at least one of delay, jitter, loss, corrupt, duplicate, reorder or rate")
	}
	for k := range fc.Netem {
		if !slices.Contains(netemKeys, k) {
			return nil, fmt.Errorf("unknown packet effect %q", k)
		}
	}
	if _, err := netemArgs(fc.Netem); err != nil {
		return nil, err
	}
	return &packetFault{n: n, cfg: fc, chain: packetChain(fc.Name), netem: map[string]string{}, applied: map[string]bool{}}, nil
}

// packetChain is the fault's iptables chain: jplan-pkt-<name> when that
// fits iptables' 28 characters, else a hash of the name.
func packetChain(name string) string {
	c := packetChainPrefix + name
	if len(c) <= 28 && !strings.ContainsAny(c, " \t'\"$`\\!") {
		return c
	}
	h := sha256.Sum256([]byte(name))
	return packetChainPrefix + hex.EncodeToString(h[:])[:12]
}

// netemArgs turns the effects into netem's arguments. Durations are
// given to tc in microseconds. netem only reorders packets it delays, so
// reorder without delay gets a 10ms delay.
func netemArgs(e map[string]string) ([]string, error) {
	var args []string
	dur := func(k string) (string, error) {
		d, err := time.ParseDuration(e[k])
		if err != nil || d < 0 {
			return "", fmt.Errorf("packet %s %q: not a duration", k, e[k])
		}
		return strconv.FormatInt(d.Microseconds(), 10) + "us", nil
	}
	_, hasDelay := e["delay"]
	_, hasJitter := e["jitter"]
	_, hasReorder := e["reorder"]
	if hasDelay || hasJitter || hasReorder {
		delay := "0us"
		if hasDelay {
			var err error
			if delay, err = dur("delay"); err != nil {
				return nil, err
			}
		} else if hasReorder && !hasJitter {
			delay = "10000us"
		}
		args = append(args, "delay", delay)
		if hasJitter {
			j, err := dur("jitter")
			if err != nil {
				return nil, err
			}
			args = append(args, j)
		}
	}
	for _, k := range []string{"loss", "corrupt", "duplicate", "reorder"} {
		if v, ok := e[k]; ok {
			if _, err := percent(v); err != nil {
				return nil, fmt.Errorf("packet %s: %w", k, err)
			}
			args = append(args, k, v)
		}
	}
	if r, ok := e["rate"]; ok {
		if _, err := rateBytes(r); err != nil {
			return nil, err
		}
		args = append(args, "rate", r)
	}
	return args, nil
}

// percent reads "12.5%" as 0.125.
func percent(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || !strings.HasSuffix(s, "%") || f < 0 || f > 100 {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	return f / 100, nil
}

// rateBytes reads a rate in tc's notation ("1mbit", "100kbps", "2Mibit",
// or a bare number of bytes per second) as bytes per second.
func rateBytes(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, err := strconv.ParseFloat(t[:i], 64)
	if err != nil || num <= 0 {
		return 0, fmt.Errorf("packet rate %q: expected a rate like \"1mbit\" or \"100kbps\"", s)
	}
	unit := t[i:]
	mult := 1.0
	switch {
	case strings.HasPrefix(unit, "k"):
		mult, unit = 1e3, unit[1:]
	case strings.HasPrefix(unit, "m"):
		mult, unit = 1e6, unit[1:]
	case strings.HasPrefix(unit, "g"):
		mult, unit = 1e9, unit[1:]
	case strings.HasPrefix(unit, "t"):
		mult, unit = 1e12, unit[1:]
	}
	if strings.HasPrefix(unit, "i") && mult > 1 {
		// IEC: Kibit, Mibit…
		switch mult {
		case 1e3:
			mult = 1024
		case 1e6:
			mult = 1024 * 1024
		case 1e9:
			mult = 1024 * 1024 * 1024
		case 1e12:
			mult = 1024 * 1024 * 1024 * 1024
		}
		unit = unit[1:]
	}
	switch unit {
	case "bit":
		return num * mult / 8, nil
	case "bps", "":
		return num * mult, nil
	}
	return 0, fmt.Errorf("packet rate %q: unknown unit %q (bit, kbit, mbit, gbit, bps, kbps, mbps…)", s, t[i:])
}

// start degrades the targets' traffic to their peers, replacing whatever
// this fault did before (nodes no longer targeted are cleared). Value:
// node → what was applied, e.g. "netem delay 100000us loss 5%", or
// "iptables loss 50%; tbf rate 1mbit" without netem.
func (p *packetFault) start(ctx context.Context) (any, error) {
	targets, err := p.n.targets(p.cfg.Targets)
	if err != nil {
		return nil, err
	}
	var old []string
	p.mu.Lock()
	for _, node := range p.n.nodes {
		if p.applied[node] && !slices.Contains(targets, node) {
			old = append(old, node)
		}
	}
	p.mu.Unlock()
	if len(old) > 0 {
		if _, err := p.n.onNodes(ctx, old, p.clear); err != nil {
			return nil, err
		}
	}
	return p.n.onNodes(ctx, targets, p.apply)
}

func (p *packetFault) peers(node string) []string {
	var out []string
	for _, other := range p.n.nodes {
		if other != node {
			out = append(out, p.n.hosts[other])
		}
	}
	return out
}

func (p *packetFault) apply(ctx context.Context, r control.Remote) (string, error) {
	why, err := p.probe(ctx, r)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.applied[r.Node()] = true // heal looks even if this fails half way
	p.mu.Unlock()
	var b strings.Builder
	b.WriteString(p.clearScript())
	b.WriteString("set -e\n")
	fmt.Fprintf(&b, "peers=''\nfor h in %s; do\n", quoteAll(p.peers(r.Node())))
	b.WriteString(`	ip=$(getent ahostsv4 "$h" | awk 'NR == 1 { print $1 }')
	[ -n "$ip" ] || { echo "cannot resolve peer $h" >&2; exit 1; }
	peers="$peers $ip"
done
`)
	var done []string
	qdisc := ""
	if why == "" {
		args, _ := netemArgs(p.cfg.Netem)
		qdisc = "netem " + strings.Join(args, " ")
		done = append(done, qdisc)
	} else {
		var unsupported []string
		for _, k := range netemKeys {
			if _, ok := p.cfg.Netem[k]; ok && k != "loss" && k != "rate" {
				unsupported = append(unsupported, k)
			}
		}
		if len(unsupported) > 0 {
			return "", fmt.Errorf("%s: the kernel lacks sch_netem (%s), so packet %s cannot be applied; without netem only loss (iptables) and rate (tbf) work (containers share the host's kernel: nodes made by jplan cluster up --driver qemu have their own, with netem)", r.Node(), why, strings.Join(unsupported, ", "))
		}
		if loss, ok := p.cfg.Netem["loss"]; ok {
			prob, _ := percent(loss)
			fmt.Fprintf(&b, `ipt() { iptables -w "$@"; }
ipt -N %[1]s
ipt -I OUTPUT 1 -j %[1]s
for ip in $peers; do ipt -A %[1]s -d "$ip" -m statistic --mode random --probability %[2]s -j DROP; done
`, p.chain, strconv.FormatFloat(prob, 'f', -1, 64))
			done = append(done, "iptables loss "+loss)
		}
		if rate, ok := p.cfg.Netem["rate"]; ok {
			bps, _ := rateBytes(rate)
			// A burst of a tenth of a second's worth, at least 16 KB so a
			// fast link's timer granularity does not starve it.
			burst := max(int(bps/10), 16*1024)
			qdisc = fmt.Sprintf("tbf rate %s burst %d latency 100ms", rate, burst)
			done = append(done, "tbf rate "+rate)
		}
	}
	if qdisc != "" {
		fmt.Fprintf(&b, `devs=''
for ip in $peers; do
	d=$(ip route get "$ip" | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
	[ -n "$d" ] || { echo "no route to $ip" >&2; exit 1; }
	case " $devs " in *" $d "*) ;; *) devs="$devs $d" ;; esac
done
for d in $devs; do
	tc qdisc add dev "$d" root handle %[1]s htb default 0
	tc class add dev "$d" parent %[1]s classid %[2]s htb rate 10gbit burst 1250kb cburst 1250kb quantum 60000
	tc qdisc add dev "$d" parent %[2]s handle 4a51: %[3]s
	for ip in $peers; do
		tc filter add dev "$d" parent %[1]s protocol ip prio 1 u32 match ip dst "$ip"/32 flowid %[2]s
	done
done
`, qdiscHandle, qdiscClass, qdisc)
	}
	if _, err := r.Exec(ctx, control.Command{Script: b.String(), Timeout: packetTimeout}); err != nil {
		return "", err
	}
	return strings.Join(done, "; "), nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = control.Quote(s)
	}
	return strings.Join(q, " ")
}

// probe finds out, once per node, whether netem works: it adds a netem
// qdisc to the loopback interface of a throwaway network namespace (or,
// without unshare, briefly to the node's own loopback). The result is
// "" when it works, or tc's complaint.
func (p *packetFault) probe(ctx context.Context, r control.Remote) (string, error) {
	p.mu.Lock()
	why, ok := p.netem[r.Node()]
	p.mu.Unlock()
	if ok {
		return why, nil
	}
	script := `command -v tc >/dev/null 2>&1 || { echo "no tc (iproute2) is not installed"; exit 0; }
if command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	if out=$(unshare -n tc qdisc add dev lo root netem delay 0ms 2>&1); then echo yes; else echo "no $out"; fi
elif out=$(tc qdisc add dev lo root handle 4a52: netem delay 0ms 2>&1); then
	tc qdisc del dev lo root handle 4a52: 2>/dev/null
	echo yes
else
	echo "no $out"
fi`
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: packetTimeout})
	if err != nil {
		return "", fmt.Errorf("probing for netem: %w", err)
	}
	out := strings.TrimSpace(res.Stdout)
	why = ""
	if out != "yes" {
		why = strings.TrimSpace(strings.TrimPrefix(out, "no"))
		if why == "" {
			why = "tc qdisc add … netem failed"
		}
		why = "tc: " + strings.Join(strings.Fields(why), " ")
	}
	p.mu.Lock()
	p.netem[r.Node()] = why
	p.mu.Unlock()
	return why, nil
}

// clearScript removes jplan's qdisc from every interface and this fault's
// iptables chain; it is safe to run anywhere, any number of times.
func (p *packetFault) clearScript() string {
	return fmt.Sprintf(`if command -v tc >/dev/null 2>&1; then
	for d in $(ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
		if tc qdisc show dev "$d" 2>/dev/null | grep -q '^qdisc htb %[1]s root'; then
			tc qdisc del dev "$d" root || exit 1
		fi
	done
fi
if command -v iptables >/dev/null 2>&1; then
	while iptables -w -D OUTPUT -j %[2]s 2>/dev/null; do :; done
	if iptables -w -S %[2]s >/dev/null 2>&1; then
		iptables -w -F %[2]s && iptables -w -X %[2]s || exit 1
	fi
fi
`, qdiscHandle, p.chain)
}

func (p *packetFault) clear(ctx context.Context, r control.Remote) (string, error) {
	if _, err := r.Exec(ctx, control.Command{Script: p.clearScript(), Timeout: packetTimeout}); err != nil {
		return "", err
	}
	p.mu.Lock()
	delete(p.applied, r.Node())
	p.mu.Unlock()
	return "healed", nil
}

// stop removes the fault from every node where it was applied. Value:
// node → "healed".
func (p *packetFault) stop(ctx context.Context) (any, error) {
	p.mu.Lock()
	var nodes []string
	for node := range p.applied {
		nodes = append(nodes, node)
	}
	p.mu.Unlock()
	sort.Strings(nodes)
	return p.n.onNodes(ctx, nodes, p.clear)
}

// heal clears every node, applied or not, so leftovers of an interrupted
// run go too.
func (p *packetFault) heal(ctx context.Context) error {
	_, err := p.n.onNodes(ctx, p.n.nodes, p.clear)
	return err
}
