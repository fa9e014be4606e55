package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// Flow is one kind of traffic from a zone host to the PLC and what the
// test policy (Policy) says about it.
type Flow struct {
	Desc     string
	From     string // zone key of the client host (plant.Supervisory, ...)
	Proto    string // tcp, udp or icmp (ICMPv6 when V6)
	V6       bool
	Rule     string // the rule that decides it in monitor and enforce
	FromZone string
	Allowed  bool
}

// The flows of the test policy.
var (
	SupTCP   = Flow{"HMI->PLC tcp/502", plant.Supervisory, "tcp", false, "hmi-polls-plc", "supervisory", true}
	SupTCP6  = Flow{"HMI->PLC tcp/502 over IPv6", plant.Supervisory, "tcp", true, "hmi-polls-plc", "supervisory", true}
	SupUDP   = Flow{"HMI->PLC udp/2222", plant.Supervisory, "udp", false, "hmi-io-udp", "supervisory", true}
	SupICMP  = Flow{"HMI->PLC ping", plant.Supervisory, "icmp", false, "hmi-pings-plc", "supervisory", true}
	SupICMP6 = Flow{"HMI->PLC ping over IPv6", plant.Supervisory, "icmp", true, "hmi-pings-plc-v6", "supervisory", true}
	EntTCP   = Flow{"enterprise->PLC tcp/502", plant.Enterprise, "tcp", false, "deny-enterprise-to-plant", "enterprise", false}
	EntUDP   = Flow{"enterprise->PLC udp/2222", plant.Enterprise, "udp", false, "deny-enterprise-to-plant", "enterprise", false}
	EntICMP  = Flow{"enterprise->PLC ping", plant.Enterprise, "icmp", false, "deny-enterprise-to-plant", "enterprise", false}
	OpsTCP6  = Flow{"operations->PLC tcp/502 over IPv6", plant.Operations, "tcp", true, "default", "operations", false}
	OpsUDP   = Flow{"operations->PLC udp/2222", plant.Operations, "udp", false, "default", "operations", false}
	OpsTCP   = Flow{"operations->PLC tcp/502", plant.Operations, "tcp", false, "default", "operations", false}
)

// Matrix is every flow the mode tests drive.
var Matrix = []Flow{SupTCP, SupTCP6, SupUDP, SupICMP, SupICMP6, EntTCP, EntUDP, EntICMP, OpsTCP6, OpsUDP}

// Port is f's destination port on the PLC, 0 for ICMP.
func (f Flow) Port() int {
	switch f.Proto {
	case "tcp":
		return PLCTCP
	case "udp":
		return PLCUDP
	}
	return 0
}

// LogProto is the proto field the verdict line carries.
func (f Flow) LogProto() string {
	if f.Proto == "icmp" && f.V6 {
		return "icmpv6"
	}
	return f.Proto
}

// Src is the address f comes from.
func (r *Rig) Src(f Flow) netip.Addr {
	if f.V6 {
		return r.P.Host(f.From).IPv6
	}
	return r.P.Host(f.From).IPv4
}

// Dst is the PLC's address for f.
func (r *Rig) Dst(f Flow) netip.Addr {
	if f.V6 {
		return r.P.Host(plant.Control).IPv6
	}
	return r.P.Host(plant.Control).IPv4
}

// Addr is f's destination as plantpeer and net.Dial take it.
func (r *Rig) Addr(f Flow) string {
	if f.Proto == "icmp" {
		return r.Dst(f).String()
	}
	return netip.AddrPortFrom(r.Dst(f), uint16(f.Port())).String()
}

// Probe makes one exchange of f with the PLC (a fresh connection, socket
// or echo id, so a fresh flow) and returns nil when the echo came back.
func (r *Rig) Probe(f Flow, timeout time.Duration) error {
	cmd := plant.NSCmd(r.P.Host(f.From).NS, r.Peer, "probe", "-proto", f.Proto, "-addr", r.Addr(f),
		"-timeout", timeout.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// MustPass fails the test unless a probe of f comes back.
func (r *Rig) MustPass(f Flow, why string) {
	r.T.Helper()
	if err := r.Probe(f, PassTimeout); err != nil {
		r.T.Errorf("%s: %s was blocked, want it to pass: %v", why, f.Desc, err)
	}
}

// MustBlock fails the test if a probe of f comes back.
func (r *Rig) MustBlock(f Flow, why string) {
	r.T.Helper()
	if err := r.Probe(f, BlockTimeout); err == nil {
		r.T.Errorf("%s: %s passed, want it dropped", why, f.Desc)
	}
}

// MustPassAll is MustPass for each of fs.
func (r *Rig) MustPassAll(why string, fs ...Flow) {
	r.T.Helper()
	for _, f := range fs {
		r.MustPass(f, why)
	}
}

// MustBlockAll is MustBlock for each of fs.
func (r *Rig) MustBlockAll(why string, fs ...Flow) {
	r.T.Helper()
	for _, f := range fs {
		r.MustBlock(f, why)
	}
}

// BigUDP sends n datagrams of size bytes (larger than the MTU, so the
// sender fragments them) from f's host to the PLC's UDP echo and returns
// how many came back.
func (r *Rig) BigUDP(f Flow, size, n int, timeout time.Duration) int {
	r.T.Helper()
	cmd := plant.NSCmd(r.P.Host(f.From).NS, r.Peer, "pingpong", "-proto", "udp", "-addr", r.Addr(f),
		"-size", fmt.Sprint(size), "-n", fmt.Sprint(n), "-warmup", "0", "-timeout", timeout.String(), "-json")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	var res struct {
		N    int `json:"n"`
		Lost int `json:"lost"`
	}
	if err != nil || json.Unmarshal(out, &res) != nil || res.N != n {
		r.T.Fatalf("pingpong %s: %v: %s %s", f.Desc, err, out, errb.String())
	}
	return n - res.Lost
}

// WantVerdict is what the verdict line of f says in mode under the test
// policy.
func WantVerdict(mode string, f Flow) map[string]string {
	w := map[string]string{"mode": mode, "from_zone": f.FromZone, "to_zone": "control",
		"proto": f.LogProto(), "rule": f.Rule, "reason": "new-flow", "verdict": "accept", "would": "accept"}
	switch mode {
	case "passthrough":
		w["rule"], w["reason"] = "", "passthrough"
	case "monitor":
		if !f.Allowed {
			w["would"] = "drop"
		}
	case "enforce":
		if !f.Allowed {
			// No allow rule could match these flows by zones, protocol and
			// port: the kernel pre-filter drops them before the queue.
			w["verdict"], w["would"], w["reason"] = "drop", "drop", "kernel-deny"
		}
	}
	return w
}
