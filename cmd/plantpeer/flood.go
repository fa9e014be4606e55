package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share: sendmmsg
// and recvmmsg over one socket. Both use socket.Message under the alias.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(c *net.UDPConn, is6 bool) batchConn {
	if is6 {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

// floodResult is flood's JSON line.
type floodResult struct {
	Sent    uint64  `json:"sent"`
	Errors  uint64  `json:"errors"`
	Seconds float64 `json:"seconds"`
	PPS     float64 `json:"pps"`
	LastErr string  `json:"last_err,omitempty"`
}

// runFlood sends identical datagrams as fast as it can for -for, in
// sendmmsg batches of one pre-built buffer.
func runFlood(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("flood", stderr)
	addr := fs.String("addr", "", "destination IP:PORT")
	size := fs.Int("size", 64, "payload bytes (1..65000)")
	dur := fs.Duration("for", 5*time.Second, "how long to send (at most 10m)")
	batch := fs.Int("batch", 64, "datagrams per sendmmsg (1..1024)")
	src := fs.String("src", "", "source IP to bind")
	hello := fs.Bool("hello", false, "first exchange one datagram with a udp-sink -hello (so that a firewall has seen the flow both ways)")
	if err := parse(fs, args, "addr"); err != nil {
		return err
	}
	if *size < 1 || *size > 65000 || *batch < 1 || *batch > 1024 {
		return usagef("-size must be 1..65000 and -batch 1..1024")
	}
	if *dur <= 0 || *dur > 10*time.Minute {
		return usagef("-for %v: want (0, 10m]", *dur)
	}
	srcAddr, err := localAddr(*src)
	if err != nil {
		return err
	}
	dst := netip.MustParseAddrPort(*addr)
	var laddr *net.UDPAddr
	if srcAddr.IsValid() {
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(srcAddr, 0))
	}
	c, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetWriteBuffer(4 << 20)
	bc := newBatchConn(c, dst.Addr().Is6() && !dst.Addr().Is4In6())
	if *hello {
		// Best effort: the flood runs whether or not the answer comes.
		for range 5 {
			if _, err := c.Write([]byte(helloMsg)); err != nil {
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := c.Read(make([]byte, 64)); err == nil {
				break
			}
		}
		_ = c.SetReadDeadline(time.Time{})
	}

	payload := make([]byte, *size)
	copy(payload, "conduit-flood")
	msgs := make([]ipv4.Message, *batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload} // connected socket: no per-message address
	}

	var res floodResult
	start := time.Now()
	end := start.Add(*dur)
	for i := 0; ctx.Err() == nil; i++ {
		// Checking the clock every 16 batches keeps it out of the hot loop.
		if i&15 == 0 && time.Now().After(end) {
			break
		}
		n, err := bc.WriteBatch(msgs, 0)
		res.Sent += uint64(n)
		if err != nil {
			// ECONNREFUSED (no sink yet) and ENOBUFS are transient: count, back off briefly.
			res.Errors++
			res.LastErr = err.Error()
			if res.Errors > 1_000_000 {
				return fmt.Errorf("giving up after %d send errors: %w", res.Errors, err)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	el := time.Since(start)
	res.Seconds = el.Seconds()
	res.PPS = float64(res.Sent) / el.Seconds()
	return writeJSON(stdout, res)
}

// helloMsg is the datagram flood -hello sends and udp-sink -hello answers
// (and does not count).
const helloMsg = "conduit-hello"

// sinkResult is udp-sink's JSON line.
type sinkResult struct {
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	Seconds float64 `json:"seconds"` // first to last packet
	PPS     float64 `json:"pps"`
	// Sources counts packets by source address, with -by-source.
	Sources map[string]uint64 `json:"sources,omitempty"`
}

// runSink counts datagrams with recvmmsg until -for ends, or until it has
// seen traffic and then none for -idle. Rate is over first..last packet.
func runSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("udp-sink", stderr)
	listen := fs.String("l", "", "listen address IP:PORT")
	dur := fs.Duration("for", 7*time.Second, "longest run (at most 10m)")
	idle := fs.Duration("idle", time.Second, "stop this long after the last packet (0: never)")
	batch := fs.Int("batch", 64, "datagrams per recvmmsg (1..1024)")
	bySource := fs.Bool("by-source", false, "also count packets per source address (slower)")
	hello := fs.Bool("hello", false, "answer flood -hello's first datagram")
	if err := parse(fs, args, "l"); err != nil {
		return err
	}
	if *dur <= 0 || *dur > 10*time.Minute || *idle < 0 || *batch < 1 || *batch > 1024 {
		return usagef("-for must be (0, 10m], -idle >= 0, -batch 1..1024")
	}
	la := netip.MustParseAddrPort(*listen)
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(la))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadBuffer(8 << 20)
	bc := newBatchConn(c, la.Addr().Is6() && !la.Addr().Is4In6())
	msgs := make([]ipv4.Message, *batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 65536)}
	}

	var res sinkResult
	if *bySource {
		res.Sources = map[string]uint64{}
	}
	var first, last time.Time
	end := time.Now().Add(*dur)
	const tick = 100 * time.Millisecond // deadline granularity for -for, -idle and signals
	for ctx.Err() == nil {
		now := time.Now()
		if now.After(end) || (*idle > 0 && !last.IsZero() && now.Sub(last) > *idle) {
			break
		}
		if err := c.SetReadDeadline(now.Add(tick)); err != nil {
			return err
		}
		for {
			n, err := bc.ReadBatch(msgs, 0)
			if n > 0 {
				last = time.Now()
				before := res.Packets
				res.Packets += uint64(n)
				for i := 0; i < n; i++ {
					if *hello && msgs[i].N == len(helloMsg) && string(msgs[i].Buffers[0][:msgs[i].N]) == helloMsg {
						_, _ = c.WriteTo(msgs[i].Buffers[0][:msgs[i].N], msgs[i].Addr)
						res.Packets--
						continue
					}
					res.Bytes += uint64(msgs[i].N)
					if res.Sources != nil {
						if ua, ok := msgs[i].Addr.(*net.UDPAddr); ok {
							res.Sources[ua.AddrPort().Addr().Unmap().String()]++
						}
					}
				}
				if first.IsZero() && res.Packets > before {
					first = last
				}
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return fmt.Errorf("receive: %w", err)
			}
			if last.Sub(now) > tick {
				break // re-check -for and -idle on a busy socket too
			}
		}
	}
	if res.Packets > 1 {
		res.Seconds = last.Sub(first).Seconds()
		if res.Seconds > 0 {
			res.PPS = float64(res.Packets) / res.Seconds
		}
	}
	return writeJSON(stdout, res)
}
