package nemesis

import (
	"strings"
	"testing"

	"github.com/jplan/jplan/eval"
)

func TestNetemArgs(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"delay": "100ms", "jitter": "20ms"}, "delay 100000us 20000us"},
		{map[string]string{"delay": "1m0s"}, "delay 60000000us"},
		{map[string]string{"jitter": "5ms"}, "delay 0us 5000us"},
		{map[string]string{"loss": "5%", "corrupt": "0.1%", "duplicate": "1%"}, "loss 5% corrupt 0.1% duplicate 1%"},
		// netem reorders only delayed packets.
		{map[string]string{"reorder": "25%"}, "delay 10000us reorder 25%"},
		{map[string]string{"reorder": "25%", "delay": "50ms"}, "delay 50000us reorder 25%"},
		{map[string]string{"rate": "1mbit", "loss": "50%"}, "loss 50% rate 1mbit"},
	} {
		args, err := netemArgs(tc.in)
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if got := strings.Join(args, " "); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []map[string]string{{"delay": "soon"}, {"loss": "0.5"}, {"rate": "fast"}, {"rate": "1mbyte"}} {
		if _, err := netemArgs(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestRateBytes(t *testing.T) {
	for s, want := range map[string]float64{
		"1mbit": 125000, "100kbit": 12500, "8bit": 1, "1gbit": 125e6, "100kbps": 1e5, "2mbps": 2e6,
		"1Mibit": 1024 * 1024 / 8, "1000": 1000, "1.5mbit": 187500,
	} {
		if got, err := rateBytes(s); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", s, got, err, want)
		}
	}
}

func TestPacketChain(t *testing.T) {
	if c := packetChain("slow"); c != "jplan-pkt-slow" {
		t.Errorf("chain %q", c)
	}
	long := packetChain("a-very-long-fault-name-indeed")
	if len(long) > 28 || !strings.HasPrefix(long, packetChainPrefix) || long == packetChain("a-very-long-fault-name-too") {
		t.Errorf("long chain %q", long)
	}
	// Never a name the partition heal would remove (it takes JPLAN*).
	if strings.Contains(strings.ToUpper(long), "JPLAN") && strings.Contains(long, "JPLAN") {
		t.Errorf("chain %q looks like a partition chain", long)
	}
}

func TestBuildPacketChecks(t *testing.T) {
	n := &Nemesis{}
	if _, err := buildPacket(n, eval.FaultConfig{Name: "x"}, nil); err == nil {
		t.Error("a packet fault without effects was accepted")
	}
	if _, err := buildPacket(n, eval.FaultConfig{Name: "x", Netem: map[string]string{"bandwidth": "1mbit"}}, nil); err == nil {
		t.Error("an unknown effect was accepted")
	}
	if _, err := buildPacket(n, eval.FaultConfig{Name: "x", Netem: map[string]string{"loss": "5%"}}, nil); err != nil {
		t.Error(err)
	}
}
