package plant

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// PingFrom sends one ICMP or ICMPv6 echo request from namespace ns to dst
// and waits up to timeout for the reply. It returns the round-trip time.
func PingFrom(ns string, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	var c *icmp.PacketConn
	err := Do(ns, func() error {
		var err error
		c, err = listenICMP(dst)
		return err
	})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return echo(c, dst, timeout)
}

// Ping is PingFrom in the caller's own namespace.
func Ping(dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	c, err := listenICMP(dst)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return echo(c, dst, timeout)
}

func listenICMP(dst netip.Addr) (*icmp.PacketConn, error) {
	network, laddr := "ip4:icmp", "0.0.0.0"
	if dst.Is6() && !dst.Is4In6() {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	c, err := icmp.ListenPacket(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("icmp listen %s: %w", network, err)
	}
	return c, nil
}

// echo sends one echo request on c and waits for the matching reply. Raw
// sockets see every ICMP packet of the namespace, so replies are matched
// by source, identifier and sequence number.
func echo(c *icmp.PacketConn, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := int(binary.BigEndian.Uint16(rnd[:2]))
	seq := int(binary.BigEndian.Uint16(rnd[2:]))
	v6 := dst.Is6() && !dst.Is4In6()
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if v6 {
		reqType, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("conduit-plant")}}
	wb, err := msg.Marshal(nil) // the kernel fills the ICMPv6 checksum
	if err != nil {
		return 0, fmt.Errorf("icmp marshal: %w", err)
	}
	start := time.Now()
	deadline := start.Add(timeout)
	if err := c.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	if _, err := c.WriteTo(wb, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return 0, fmt.Errorf("icmp echo to %s: %w", dst, err)
	}
	rb := make([]byte, 1500)
	for {
		n, peer, err := c.ReadFrom(rb)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, fmt.Errorf("icmp echo to %s: no reply within %v", dst, timeout)
			}
			return 0, fmt.Errorf("icmp echo to %s: %w", dst, err)
		}
		ip, ok := peer.(*net.IPAddr)
		if !ok {
			continue
		}
		from, _ := netip.AddrFromSlice(ip.IP)
		if from.Unmap() != dst.Unmap() {
			continue
		}
		m, err := icmp.ParseMessage(proto, rb[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return time.Since(start), nil
		}
	}
}
