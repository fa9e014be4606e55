package afpacket

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
	"golang.org/x/sys/unix"
)

// veth makes a namespace with a veth pair: tap (observed) and peer (where
// the test sends). IPv6 is off on both, so the kernel sends nothing of its
// own on them.
func veth(t *testing.T) string {
	t.Helper()
	if why := plant.Available(); why != "" {
		t.Skip(why)
	}
	ns := plant.UniquePrefix("afp")
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, c := range [][]string{
		{"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "link", "add", "tap", "type", "veth", "peer", "name", "peer"},
		{"ip", "link", "set", "tap", "arp", "off", "up"},
		{"ip", "link", "set", "peer", "arp", "off", "up"},
	} {
		sh(t, append([]string{"ip", "netns", "exec", ns}, c...)...)
	}
	return ns
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// txPackets is the interface's transmit counter in ns.
func txPackets(t *testing.T, ns, iface string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "-s", "link", "show", iface).Output()
	if err != nil {
		t.Fatalf("ip -s link: %v", err)
	}
	var l []struct {
		Stats64 struct {
			TX struct {
				Packets uint64 `json:"packets"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &l); err != nil || len(l) != 1 {
		t.Fatalf("ip -s link: %v: %s", err, out)
	}
	return l[0].Stats64.TX.Packets
}

// frame is an Ethernet frame with an IPv4/UDP packet whose source port is sport.
func frame(sport uint16) []byte {
	b := make([]byte, 14+20+8+4)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{0x00, 0x80, 0xf4, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 32)
	copy(ip[12:16], []byte{10, 20, 0, 10})
	copy(ip[16:20], []byte{10, 10, 0, 10})
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], 502)
	binary.BigEndian.PutUint16(ip[24:], 12)
	return b
}

func TestRingReceivesAndNeverTransmits(t *testing.T) {
	ns := veth(t)
	var s *Socket
	var tx int
	err := plant.Do(ns, func() error {
		var err error
		if s, err = Open(Config{Iface: "tap", BlockSize: 1 << 16, Blocks: 4, RetireMS: 2}); err != nil {
			return err
		}
		// The test's sender, on the peer end.
		tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer unix.Close(tx)
	var peer *net.Interface
	plant.Do(ns, func() (err error) { peer, err = net.InterfaceByName("peer"); return })
	txBefore := txPackets(t, ns, "tap")

	const n = 300 // more than one 64 KiB block holds
	for i := range n {
		sa := &unix.SockaddrLinklayer{Ifindex: peer.Index, Halen: 6}
		if err := unix.Sendto(tx, frame(uint16(1000+i)), 0, sa); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	seen := map[uint16]bool{}
	fds := make([]unix.PollFd, 1)
	deadline := time.Now().Add(10 * time.Second)
	var f Frame
	for len(seen) < n && time.Now().Before(deadline) {
		if err := Wait([]*Socket{s}, fds, 100); err != nil {
			t.Fatal(err)
		}
		if !s.Ready() {
			continue
		}
		for s.Next(&f) {
			if len(f.Data) != 46 || f.WireLen != 46 {
				t.Fatalf("frame of %d bytes (wire %d), want 46", len(f.Data), f.WireLen)
			}
			if f.Sec == 0 {
				t.Fatal("no receive time")
			}
			seen[binary.BigEndian.Uint16(f.Data[34:])] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("read %d distinct frames of %d", len(seen), n)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets < n || st.Drops != 0 {
		t.Errorf("stats %+v, want >= %d packets and no drops", st, n)
	}
	if d := txPackets(t, ns, "tap") - txBefore; d != 0 {
		t.Errorf("the observed interface transmitted %d frames", d)
	}
}

// TestRingDropsAreCounted fills a small ring without reading it: the
// kernel's drops show in Stats.
func TestRingDropsAreCounted(t *testing.T) {
	ns := veth(t)
	var s *Socket
	var tx int
	err := plant.Do(ns, func() error {
		var err error
		if s, err = Open(Config{Iface: "tap", BlockSize: 4096, Blocks: 2, RetireMS: 1}); err != nil {
			return err
		}
		tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer unix.Close(tx)
	var peer *net.Interface
	plant.Do(ns, func() (err error) { peer, err = net.InterfaceByName("peer"); return })
	for i := range 500 {
		unix.Sendto(tx, frame(uint16(i)), 0, &unix.SockaddrLinklayer{Ifindex: peer.Index, Halen: 6})
	}
	time.Sleep(50 * time.Millisecond)
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Drops == 0 || st.Packets < 500 {
		t.Errorf("stats %+v: want the ring's drops counted", st)
	}
}

// TestFanoutKeepsBothDirectionsTogether: two groups (two interfaces of a
// TAP) of two sockets each; a flow's two directions land on the same
// member index.
func TestFanoutKeepsBothDirectionsTogether(t *testing.T) {
	ns := veth(t)
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "add", "tap2", "type", "veth", "peer", "name", "peer2")
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "tap2", "arp", "off", "up")
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "peer2", "arp", "off", "up")
	var socks [2][2]*Socket // [iface][member]
	var tx int
	err := plant.Do(ns, func() error {
		for i, name := range []string{"tap", "tap2"} {
			g := &Group{}
			for m := range 2 {
				s, err := Open(Config{Iface: name, Fanout: g, BlockSize: 1 << 16, Blocks: 4, RetireMS: 2})
				if err != nil {
					return err
				}
				socks[i][m] = s
			}
		}
		var err error
		tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tx)
	for _, ss := range socks {
		for _, s := range ss {
			defer s.Close()
		}
	}
	var peers [2]*net.Interface
	plant.Do(ns, func() (err error) {
		if peers[0], err = net.InterfaceByName("peer"); err != nil {
			return err
		}
		peers[1], err = net.InterfaceByName("peer2")
		return err
	})
	const flows = 64
	for i := range flows {
		req := frame(uint16(2000 + i))
		// The reply: addresses and ports swapped, sent on the other side.
		rep := frame(502)
		copy(rep[26:30], []byte{10, 10, 0, 10})
		copy(rep[30:34], []byte{10, 20, 0, 10})
		binary.BigEndian.PutUint16(rep[36:], uint16(2000+i))
		unix.Sendto(tx, req, 0, &unix.SockaddrLinklayer{Ifindex: peers[0].Index, Halen: 6})
		unix.Sendto(tx, rep, 0, &unix.SockaddrLinklayer{Ifindex: peers[1].Index, Halen: 6})
	}
	// member[i] of flow client port
	got := [2]map[uint16]int{{}, {}}
	deadline := time.Now().Add(10 * time.Second)
	var f Frame
	for (len(got[0]) < flows || len(got[1]) < flows) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		for i := range 2 {
			for m, s := range socks[i] {
				if !s.Ready() {
					continue
				}
				for s.Next(&f) {
					sp, dp := binary.BigEndian.Uint16(f.Data[34:]), binary.BigEndian.Uint16(f.Data[36:])
					client := sp
					if sp == 502 {
						client = dp
					}
					got[i][client] = m
				}
			}
		}
	}
	if len(got[0]) < flows || len(got[1]) < flows {
		t.Fatalf("read %d and %d flows of %d", len(got[0]), len(got[1]), flows)
	}
	members := map[int]bool{}
	for c, m := range got[0] {
		members[m] = true
		if got[1][c] != m {
			t.Errorf("flow %d: request on member %d, reply on member %d", c, m, got[1][c])
		}
	}
	if len(members) != 2 {
		t.Errorf("fanout used members %v of 2", members)
	}
}
