package planttest

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// TestPingAcrossBridge builds the plant and checks every zone pair is
// reachable through the bridge, over IPv4 and IPv6, and that an address
// nobody holds is not (so the check itself can fail).
func TestPingAcrossBridge(t *testing.T) {
	p := New(t)
	for _, key := range []string{"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"} {
		out, err := p.Cmd(p.FW, "cat", "/proc/sys/"+key).Output()
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("%s in %s = %q, %v; want 1", key, p.FW, out, err)
		}
	}
	pairs := []struct {
		from string
		to   netip.Addr
	}{
		{plant.Supervisory, p.Host(plant.Control).IPv4},
		{plant.Supervisory, p.Host(plant.Control).IPv6},
		{plant.Operations, p.Host(plant.Supervisory).IPv4},
		{plant.Enterprise, p.Host(plant.Operations).IPv6},
		{plant.Control, plant.EWS},
	}
	for _, pr := range pairs {
		rtt, err := plant.PingFrom(p.Host(pr.from).NS, pr.to, 2*time.Second)
		if err != nil {
			t.Errorf("ping %s -> %s: %v", pr.from, pr.to, err)
			continue
		}
		t.Logf("ping %s -> %s: %v", pr.from, pr.to, rtt)
	}
	if _, err := plant.PingFrom(p.Host(plant.Supervisory).NS, netip.MustParseAddr("10.99.0.1"), 300*time.Millisecond); err == nil {
		t.Error("ping to an unassigned address succeeded")
	}
}
