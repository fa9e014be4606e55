package learn

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/rules"
)

// Ingress is where one address's packets came in: the bridge ports (or
// capture interfaces) and how many packets came from it with no port
// known. learn proposes a zone's ports from it (a zone binding) only when
// every packet of the zone's addresses came with a port.
type Ingress struct {
	Ports   map[string]uint64
	Unknown uint64
}

// ingressOf returns the record of address a, creating it.
func (m *Matrix) ingressOf(a netip.Addr) *Ingress {
	if m.ingress == nil {
		m.ingress = map[netip.Addr]*Ingress{}
	}
	in := m.ingress[a]
	if in == nil {
		in = &Ingress{Ports: map[string]uint64{}}
		m.ingress[a] = in
	}
	return in
}

// sawFrom records a packet from a on port ("" when unknown).
func (m *Matrix) sawFrom(a netip.Addr, port string) {
	in := m.ingressOf(a.Unmap())
	if port == "" {
		in.Unknown++
		return
	}
	in.Ports[port]++
}

// copyWindow is how far apart in time two captures of one frame on two
// interfaces are taken for one frame the bridge forwarded: a capture on
// several bridge ports sees a packet on the port it came in on and again
// on each port it left by, a few microseconds later. dumpcap writes each
// interface's frames in batches, so the copy may come first in the file.
const copyWindow = int64(100 * time.Millisecond)

// copies remembers recent frames by hash, with the interface of the
// earliest capture, to tell a forwarded copy from the frame as it came in.
type copies struct {
	seed  maphash.Seed
	slots [4096]struct {
		h    uint64
		at   int64
		port string
	}
}

// arrival records b, captured at ts on port. It reports whether this is
// the frame as it came in, and, when an earlier-recorded capture of it
// turns out to be a forwarded copy (captured later, written first), that
// capture's port, whose count is to be taken back.
func (c *copies) arrival(ts int64, b []byte, port string) (in bool, undo string) {
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	h := maphash.Bytes(c.seed, b)
	s := &c.slots[h%uint64(len(c.slots))]
	if s.h == h && s.port != port && max(ts-s.at, s.at-ts) < copyWindow {
		switch {
		case ts == s.at && s.port != "":
			// The same timestamp on two ports (captures are stamped to the
			// microsecond, and a bridge forwards within one): neither can
			// be told to be the arrival, so neither is counted. The slot
			// keeps the time, with no port, for further copies.
			undo = s.port
			s.port = ""
			return false, undo
		case ts >= s.at:
			return false, "" // a copy leaving by port
		}
		undo = s.port
	}
	s.h, s.at, s.port = h, ts, port
	return true, undo
}

// ingressPacket records where the captured packet p came in, unless it is
// the copy of a packet leaving by another port.
func (l *Learner) ingressPacket(p *capture.Packet) {
	if !l.p.Src.IsValid() {
		return
	}
	switch {
	case p.Interface == "":
	case p.Direction == capture.DirOutbound:
		return
	case p.Direction == capture.DirUnknown:
		in, undo := l.copies.arrival(p.Time, p.Data, p.Interface)
		if undo != "" {
			if rec := l.m.ingressOf(l.p.Src.Unmap()); rec.Ports[undo] > 0 {
				if rec.Ports[undo]--; rec.Ports[undo] == 0 {
					delete(rec.Ports, undo)
				}
			}
		}
		if !in {
			return
		}
	}
	l.m.sawFrom(l.p.Src, p.Interface)
}

// zoneIngress sums the ingress of the addresses in one draft zone.
type zoneIngress struct {
	ports            map[string]uint64
	packets, unknown uint64
	hosts            int
}

// zoneBindings sums m's ingress records by zone of zs.
func zoneBindings(m *Matrix, zs *Zones) map[*Zone]*zoneIngress {
	out := map[*Zone]*zoneIngress{}
	for a, in := range m.ingress {
		z := zs.Zone(a)
		if z == nil {
			continue
		}
		zi := out[z]
		if zi == nil {
			zi = &zoneIngress{ports: map[string]uint64{}}
			out[z] = zi
		}
		zi.hosts++
		zi.unknown += in.Unknown
		zi.packets += in.Unknown
		for p, n := range in.Ports {
			zi.ports[p] += n
			zi.packets += n
		}
	}
	return out
}

// portList returns the ports in name order, valid as a policy's ports.
func (zi *zoneIngress) portList() []string {
	var ps []string
	for p := range zi.ports {
		if validPort(p) {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// validPort reports whether the policy accepts p as a port name.
func validPort(p string) bool {
	_, err := rules.Parse("", []byte("zones: {z: {level: 1, cidrs: [10.0.0.0/8], ports: ["+quote(p)+"]}}\nrules: []\n"))
	return err == nil && !strings.ContainsAny(p, "\n")
}

// writePorts writes a zone's ports: as given (--zones), or proposed from
// where its addresses' packets came in, with the evidence, when every one
// of them came with a port; a partial record is left as a comment.
func writePorts(b *bytes.Buffer, z *Zone, in *zoneIngress) {
	if len(z.MACs) > 0 {
		fmt.Fprintf(b, "    macs: [%s]\n", quoteList(z.MACs))
	}
	if len(z.Ports) > 0 {
		fmt.Fprintf(b, "    ports: [%s]\n", quoteList(z.Ports))
		return
	}
	if in == nil {
		return
	}
	ps := in.portList()
	if len(ps) == 0 {
		return
	}
	known := in.packets - in.unknown
	if in.unknown == 0 && len(ps) == len(in.ports) {
		fmt.Fprintf(b, "    ports: [%s]  # every one of %s from its %s came in on %s\n", quoteList(ps),
			plural(int(in.packets), "packet"), plural(in.hosts, "host"), orPorts(ps))
		return
	}
	fmt.Fprintf(b, "    # ports: [%s]  # %d of %s from its %s came in on %s; the others' port is not known\n",
		quoteList(ps), known, plural(int(in.packets), "packet"), plural(in.hosts, "host"), orPorts(ps))
}

func quoteList(ps []string) string {
	q := make([]string, len(ps))
	for i, p := range ps {
		q[i] = yamlScalar(p)
	}
	return strings.Join(q, ", ")
}

func orPorts(ps []string) string {
	if len(ps) == 1 {
		return ps[0]
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " or " + ps[len(ps)-1]
}
