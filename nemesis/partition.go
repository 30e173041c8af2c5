package nemesis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// Partitions are iptables rules in chains jplan owns: INPUT jumps to
// chain "JPLAN", which jumps to one chain per partition fault holding its
// DROP rules. Healing a fault flushes its chain; healing everything removes
// every JPLAN chain and the jump. The user's own rules are never touched.
const topChain = "JPLAN"

// chainName is a partition fault's chain: JPLAN-<name> when that fits
// iptables' 28-character limit, JPLAN-<index> otherwise.
func chainName(fault string, index int) string {
	c := topChain + "-" + fault
	if len(c) <= 28 {
		return c
	}
	return topChain + "-" + strconv.Itoa(index)
}

const iptablesTimeout = time.Minute

type partition struct {
	n     *Nemesis
	cfg   eval.FaultConfig
	chain string
}

// start cuts the network along a freshly chosen grudge, replacing any
// grudge this fault already had in place. Every node's rules are rewritten
// (nodes without a grudge get an empty chain), so a start never stacks on
// an older one.
func (p *partition) start(ctx context.Context) (any, error) {
	g, err := p.n.grudge(p.cfg)
	if err != nil {
		return nil, err
	}
	_, err = p.n.onNodes(ctx, p.n.nodes, func(ctx context.Context, r control.Remote) (string, error) {
		var hosts []string
		for _, peer := range g[r.Node()] {
			hosts = append(hosts, p.n.hosts[peer])
		}
		return "", p.apply(ctx, r, hosts)
	})
	return g.Value(), err
}

func (p *partition) apply(ctx context.Context, r control.Remote, hosts []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `set -e
ipt() { iptables -w "$@"; }
ipt -N %[1]s 2>/dev/null || true
ipt -C INPUT -j %[1]s 2>/dev/null || ipt -I INPUT 1 -j %[1]s
ipt -N %[2]s 2>/dev/null || true
ipt -F %[2]s
ipt -C %[1]s -j %[2]s 2>/dev/null || ipt -A %[1]s -j %[2]s
`, topChain, p.chain)
	for _, h := range hosts {
		fmt.Fprintf(&b, "ipt -A %s -s %s -j DROP\n", p.chain, control.Quote(h))
	}
	_, err := r.Exec(ctx, control.Command{Script: b.String(), Timeout: iptablesTimeout})
	if err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	return nil
}

// stop flushes this fault's rules on every node.
func (p *partition) stop(ctx context.Context) (any, error) {
	script := fmt.Sprintf(`if iptables -w -S %[1]s >/dev/null 2>&1; then iptables -w -F %[1]s; fi`, p.chain)
	return p.n.onNodes(ctx, p.n.nodes, func(ctx context.Context, r control.Remote) (string, error) {
		if _, err := r.Exec(ctx, control.Command{Script: script, Timeout: iptablesTimeout}); err != nil {
			return "", fmt.Errorf("iptables: %w", err)
		}
		return "healed", nil
	})
}

// heal is done for all partition faults at once by healNetwork.
func (p *partition) heal(context.Context) error { return nil }

// healScript removes every chain jplan made, and checks that none is left.
var healScript = fmt.Sprintf(`command -v iptables >/dev/null 2>&1 || exit 0
ipt() { iptables -w "$@"; }
while ipt -D INPUT -j %[1]s 2>/dev/null; do :; done
chains=$(ipt -S | awk '$1 == "-N" && ($2 == "%[1]s" || index($2, "%[1]s-") == 1) { print $2 }')
for c in $chains; do ipt -F "$c"; done
for c in $chains; do ipt -X "$c"; done
if ipt -S | grep -q -- '%[1]s'; then
	echo "jplan's iptables rules are still present:" >&2
	ipt -S | grep -- '%[1]s' >&2
	exit 1
fi`, topChain)

// healNetwork removes all of jplan's partition rules on every node.
func (n *Nemesis) healNetwork(ctx context.Context) error {
	_, err := n.onNodes(ctx, n.nodes, func(ctx context.Context, r control.Remote) (string, error) {
		_, err := r.Exec(ctx, control.Command{Script: healScript, Timeout: iptablesTimeout})
		return "", err
	})
	return err
}
