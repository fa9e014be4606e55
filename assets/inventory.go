// Package assets builds an asset inventory from traffic seen passively:
// each IP address with its MAC addresses (and their makers), the services
// it answers and who uses them, the services it uses, and what it says
// about itself in the replies the industrial protocols carry (Modbus
// device identification, EtherNet/IP ListIdentity, DNP3 link addresses).
//
// Nothing is asked of any device: a sensor only reads what its clients
// asked for. The inventory is bounded (MaxAssets, and a few entries per
// list), so a scan or a flood cannot grow it without end.
package assets

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
)

// Bounds of the inventory.
const (
	MaxAssets  = 16384
	maxMACs    = 4
	maxPeers   = 64 // clients of a service
	maxIDs     = 8
	maxLinks   = 16 // DNP3 link addresses
	maxService = 64 // services an asset answers, and uses
)

// Asset is one IP address as the traffic shows it.
type Asset struct {
	IP        netip.Addr `json:"ip"`
	MACs      []MAC      `json:"macs"`
	Serves    []Service  `json:"serves"` // services it answered
	Uses      []Service  `json:"uses"`   // services of others it used (Peers: the servers)
	Identity  []Identity `json:"identity"`
	DNP3      []uint16   `json:"dnp3_addresses,omitempty"` // link addresses it sent from
	Packets   uint64     `json:"packets"`                  // it sent
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
}

// MAC is a hardware address an asset's packets came from, with its maker
// where the built-in OUI table knows it. A routed host shows its router's.
type MAC struct {
	Addr   string `json:"addr"`
	Vendor string `json:"vendor,omitempty"`
}

// Service is a protocol and port, with the peers on the other side.
type Service struct {
	Proto   string       `json:"proto"`
	Port    uint16       `json:"port"`
	Name    string       `json:"name,omitempty"` // modbus, dnp3, enip, s7, ...
	Peers   []netip.Addr `json:"peers"`
	Packets uint64       `json:"packets"`
}

type svcKey struct {
	proto uint8
	port  uint16
}

type asset struct {
	Asset
	first, last  int64 // ns; FirstSeen and LastSeen are set when copied out
	macs         [][6]byte
	serves, uses map[svcKey]*Service
	overflow     Service // what a full service map counts into
}

// Inventory collects assets. It is safe for concurrent use: each of its
// shards takes the frames of one reader (a sensor's worker), so readers
// never wait for each other; Assets merges the shards.
type Inventory struct {
	shards []*shard
}

type shard struct {
	mu     sync.Mutex
	assets map[netip.Addr]*asset
	p      packet.Parsed
	full   uint64 // packets of addresses refused because the shard was full

	nshards int
}

// New returns an empty inventory with n shards (at least 1).
func New(n int) *Inventory {
	inv := &Inventory{}
	for range max(n, 1) {
		inv.shards = append(inv.shards, &shard{assets: map[netip.Addr]*asset{}, nshards: max(n, 1)})
	}
	return inv
}

// Frame records, in shard i, an Ethernet frame carrying the IP packet ip,
// seen at ts (ns). frame may be nil (a capture without Ethernet headers).
// It does not allocate once the addresses and services are known.
func (inv *Inventory) Frame(i int, ts int64, frame, ip []byte) {
	inv.shards[i%len(inv.shards)].frame(ts, frame, ip)
}

func (inv *shard) frame(ts int64, frame, ip []byte) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	p := &inv.p
	if p.Decode(ip) != packet.ReasonOK || p.Fragment == packet.LaterFragment {
		return
	}
	src := inv.get(p.Src, ts)
	if src == nil {
		return
	}
	src.Packets++
	if len(frame) >= 14 && frame[6]&0x01 == 0 { // a group address is nobody's
		src.addMAC([6]byte(frame[6:12]))
	}
	if p.Proto != packet.ProtoTCP && p.Proto != packet.ProtoUDP {
		return
	}
	dst := inv.get(p.Dst, ts)
	if dst == nil {
		return
	}
	client, server, port := src, dst, p.DstPort
	if serverSide(p) {
		client, server, port = dst, src, p.SrcPort
	}
	k := svcKey{p.Proto, port}
	server.service(&server.serves, k).addPeer(client.IP)
	client.service(&client.uses, k).addPeer(server.IP)
	if len(p.Payload) == 0 {
		return
	}
	if s, _, ok := dnp3Link(p.Payload); ok && (p.SrcPort == 20000 || p.DstPort == 20000) {
		src.addLink(s) // masters and outstations alike
	}
	if server != src {
		return
	}
	// What a server says about itself.
	switch name := serviceName(p.Proto, port); name {
	case "modbus":
		if id, ok := modbusDeviceID(p.Payload); ok {
			src.addIdentity(id)
		}
	case "enip":
		if id, _, ok := enipListIdentity(p.Payload); ok {
			src.addIdentity(id)
		}
	case "s7":
		if id, ok := s7ModuleID(p.Payload); ok {
			src.addIdentity(id)
		}
	case "":
		// Modbus/TCP on another port (gateways, test rigs): only a reply
		// that is exactly one well-formed identification ADU counts.
		if p.Proto == packet.ProtoTCP && strictDeviceID(p.Payload) {
			if id, ok := modbusDeviceID(p.Payload); ok {
				src.addIdentity(id)
			}
		}
	}
}

// serverSide reports whether the packet's source is the server: a TCP
// SYN-ACK says so; otherwise the side on a known service port, else the
// lower port.
func serverSide(p *packet.Parsed) bool {
	if p.Proto == packet.ProtoTCP {
		switch p.TCPFlags & (packet.TCPSyn | packet.TCPAck) {
		case packet.TCPSyn | packet.TCPAck:
			return true
		case packet.TCPSyn:
			return false
		}
	}
	sk, dk := serviceName(p.Proto, p.SrcPort) != "", serviceName(p.Proto, p.DstPort) != ""
	if sk != dk {
		return sk
	}
	return p.SrcPort < p.DstPort
}

func (inv *shard) get(a netip.Addr, ts int64) *asset {
	if !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	x := inv.assets[a]
	if x == nil {
		if len(inv.assets) >= MaxAssets/max(1, inv.nshards) {
			inv.full++
			return nil
		}
		x = &asset{Asset: Asset{IP: a}, first: ts, serves: map[svcKey]*Service{}, uses: map[svcKey]*Service{}}
		inv.assets[a] = x
	}
	x.first, x.last = min(x.first, ts), max(x.last, ts)
	return x
}

func (x *asset) addMAC(m [6]byte) {
	if len(x.macs) < maxMACs && !slices.Contains(x.macs, m) {
		x.macs = append(x.macs, m)
	}
}

func (x *asset) service(m *map[svcKey]*Service, k svcKey) *Service {
	s := (*m)[k]
	if s == nil {
		if len(*m) >= maxService {
			x.overflow = Service{} // counted nowhere: the asset has enough
			return &x.overflow
		}
		s = &Service{Proto: packet.ProtoName(k.proto), Port: k.port, Name: serviceName(k.proto, k.port)}
		(*m)[k] = s
	}
	s.Packets++
	return s
}

func (s *Service) addPeer(a netip.Addr) {
	if len(s.Peers) < maxPeers && !slices.Contains(s.Peers, a) {
		s.Peers = append(s.Peers, a)
	}
}

func (x *asset) addIdentity(id Identity) {
	if len(x.Identity) < maxIDs && !slices.Contains(x.Identity, id) {
		x.Identity = append(x.Identity, id)
	}
}

func (x *asset) addLink(a uint16) {
	if len(x.DNP3) < maxLinks && !slices.Contains(x.DNP3, a) {
		x.DNP3 = append(x.DNP3, a)
	}
}

// Assets returns a copy of the inventory, by address, the shards merged.
func (inv *Inventory) Assets() []Asset {
	merged := map[netip.Addr]*asset{}
	for _, sh := range inv.shards {
		sh.mu.Lock()
		for a, x := range sh.assets {
			m := merged[a]
			if m == nil {
				m = &asset{Asset: Asset{IP: a}, first: x.first, serves: map[svcKey]*Service{}, uses: map[svcKey]*Service{}}
				merged[a] = m
			}
			m.merge(x)
		}
		sh.mu.Unlock()
	}
	out := make([]Asset, 0, len(merged))
	for _, x := range merged {
		a := x.Asset
		a.FirstSeen, a.LastSeen = time.Unix(0, x.first).UTC(), time.Unix(0, x.last).UTC()
		for _, mac := range x.macs {
			hw := net.HardwareAddr(mac[:])
			a.MACs = append(a.MACs, MAC{Addr: hw.String(), Vendor: OUIVendor(hw)})
		}
		slices.Sort(a.DNP3)
		a.Serves, a.Uses = services(x.serves), services(x.uses)
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Asset) int { return a.IP.Compare(b.IP) })
	return out
}

// merge adds shard entry x to m, copying what it shares.
func (m *asset) merge(x *asset) {
	m.Packets += x.Packets
	m.first, m.last = min(m.first, x.first), max(m.last, x.last)
	for _, mac := range x.macs {
		m.addMAC(mac)
	}
	for _, id := range x.Identity {
		m.addIdentity(id)
	}
	for _, l := range x.DNP3 {
		m.addLink(l)
	}
	for _, pair := range [2][2]map[svcKey]*Service{{m.serves, x.serves}, {m.uses, x.uses}} {
		for k, s := range pair[1] {
			t := pair[0][k]
			if t == nil {
				t = &Service{Proto: s.Proto, Port: s.Port, Name: s.Name}
				pair[0][k] = t
			}
			t.Packets += s.Packets
			for _, p := range s.Peers {
				t.addPeer(p)
			}
		}
	}
}

func services(m map[svcKey]*Service) []Service {
	out := make([]Service, 0, len(m))
	for _, s := range m {
		c := *s
		c.Peers = slices.Clone(s.Peers)
		slices.SortFunc(c.Peers, netip.Addr.Compare)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Service) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// Refused counts packets of addresses the full inventory could not take.
func (inv *Inventory) Refused() uint64 {
	var n uint64
	for _, sh := range inv.shards {
		sh.mu.Lock()
		n += sh.full
		sh.mu.Unlock()
	}
	return n
}

// serviceName names the industrial (and a few common) protocols by port.
func serviceName(proto uint8, port uint16) string {
	if proto != packet.ProtoTCP && proto != packet.ProtoUDP {
		return ""
	}
	switch port {
	case 502:
		return "modbus"
	case 20000:
		return "dnp3"
	case 44818:
		return "enip"
	case 2222:
		if proto == packet.ProtoUDP {
			return "enip-io"
		}
	case 102:
		return "s7"
	case 2404:
		return "iec104"
	case 4840:
		return "opcua"
	case 47808:
		return "bacnet"
	case 34962, 34963, 34964:
		return "profinet"
	case 123:
		return "ntp"
	case 53:
		return "dns"
	case 161, 162:
		return "snmp"
	case 22:
		return "ssh"
	case 80:
		return "http"
	case 443:
		return "https"
	}
	return ""
}
