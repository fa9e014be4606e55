package tap

import (
	"encoding/binary"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
	"golang.org/x/sys/unix"
)

// tcpFrame is an Ethernet frame with a TCP segment carrying flags.
func tcpFrame(src, dst [4]byte, sport, dport uint16, flags byte) []byte {
	b := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	copy(b[6:12], []byte{0x00, 0x00, 0xbc, 0, 0, src[3]})
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, flags
	return b
}

// TestTwoPortsOneFlowInOrder: handshakes whose SYN comes in on one port
// of a TAP and whose SYN-ACK comes in on the other, right after, are
// judged in that order by one worker: new flows, none picked up
// mid-stream, each direction in the same flow.
func TestTwoPortsOneFlowInOrder(t *testing.T) {
	if why := plant.Available(); why != "" {
		t.Skip(why)
	}
	ns := plant.UniquePrefix("tapt")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	for _, pair := range [][2]string{{"tapa", "peera"}, {"tapb", "peerb"}} {
		run("ip", "-n", ns, "link", "add", pair[0], "type", "veth", "peer", "name", pair[1])
		run("ip", "-n", ns, "link", "set", pair[0], "arp", "off", "up")
		run("ip", "-n", ns, "link", "set", pair[1], "arp", "off", "up")
	}
	eng := benchEngine(t, 2)
	var sens *Sensor
	var tx int
	var peers [2]*net.Interface
	err := plant.Do(ns, func() error {
		var err error
		if sens, err = Open(Config{Ifaces: []string{"tapa", "tapb"}, Engine: eng, Workers: 2}); err != nil {
			return err
		}
		if tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		for i, n := range []string{"peera", "peerb"} {
			if peers[i], err = net.InterfaceByName(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tx)
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	for i := range 2 {
		go func() { sens.Serve(t.Context(), i, stop); done <- struct{}{} }()
	}
	hmi, plc := [4]byte{10, 20, 0, 10}, [4]byte{10, 10, 0, 10}
	const flows = 40
	for i := range flows {
		sport := uint16(41000 + i)
		unix.Sendto(tx, tcpFrame(hmi, plc, sport, 2222, 0x02), 0, &unix.SockaddrLinklayer{Ifindex: peers[0].Index, Halen: 6})
		unix.Sendto(tx, tcpFrame(plc, hmi, 2222, sport, 0x12), 0, &unix.SockaddrLinklayer{Ifindex: peers[1].Index, Halen: 6})
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for eng.Counters().Packets < 2*flows && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	<-done
	<-done
	sens.Close()
	c := eng.Counters()
	if c.Packets != 2*flows || c.Pickups != 0 {
		t.Errorf("%d packets judged, %d picked up mid-stream; want %d and 0; rings %+v, frames %+v", c.Packets, c.Pickups, 2*flows, sens.Stats(), sens.Counters())
	}
	if st := eng.Conntrack().Stats(); st.Entries != flows {
		t.Errorf("%d flows tracked, want %d (one per handshake)", st.Entries, flows)
	}
}
