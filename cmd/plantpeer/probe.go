package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// probeResult is the one JSON line probe prints.
type probeResult struct {
	OK     bool    `json:"ok"`
	RTTus  float64 `json:"rtt_us"` // mean over successful attempts
	Err    string  `json:"err,omitempty"`
	Proto  string  `json:"proto"`
	Addr   string  `json:"addr"`
	N      int     `json:"n"`
	Passed int     `json:"passed"`
}

// runProbe makes -n independent exchanges (a new connection or socket
// each) and succeeds only if all of them got their echo back.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", stderr)
	proto := fs.String("proto", "tcp", "tcp, udp or icmp")
	addr := fs.String("addr", "", "HOST:PORT (tcp, udp) or HOST (icmp)")
	timeout := fs.Duration("timeout", time.Second, "per attempt")
	n := fs.Int("n", 1, "attempts; all must succeed")
	interval := fs.Duration("interval", 0, "pause between attempts")
	src := fs.String("src", "", "source IP to bind (tcp, udp)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > 100000 {
		return usagef("-n %d: want 1..100000", *n)
	}
	if *timeout <= 0 {
		return usagef("-timeout must be positive")
	}
	srcAddr, err := localAddr(*src)
	if err != nil {
		return err
	}
	var attempt func() (time.Duration, error)
	switch *proto {
	case "tcp", "udp":
		if err := needHostPort("addr", *addr); err != nil {
			return err
		}
		attempt = func() (time.Duration, error) { return exchange(*proto, *addr, srcAddr, *timeout) }
	case "icmp":
		dst, err := netip.ParseAddr(*addr)
		if err != nil {
			return usagef("-addr %q: want an IP for icmp: %v", *addr, err)
		}
		attempt = func() (time.Duration, error) { return plant.Ping(dst, *timeout) }
	default:
		return usagef("-proto %q: want tcp, udp or icmp", *proto)
	}

	res := probeResult{Proto: *proto, Addr: *addr, N: *n}
	var total time.Duration
	var lastErr error
	for i := 0; i < *n && ctx.Err() == nil; i++ {
		if i > 0 && *interval > 0 {
			time.Sleep(*interval)
		}
		rtt, err := attempt()
		if err != nil {
			lastErr = err
			continue
		}
		res.Passed++
		total += rtt
	}
	if res.Passed > 0 {
		res.RTTus = us(total / time.Duration(res.Passed))
	}
	res.OK = res.Passed == *n
	if lastErr != nil {
		res.Err = lastErr.Error()
	} else if !res.OK {
		res.Err = "interrupted"
	}
	if err := writeJSON(stdout, res); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("%d of %d attempts failed", *n-res.Passed, *n)
	}
	return nil
}

// exchange opens a connection or socket, sends a random token and waits
// for the same bytes back, all within timeout.
func exchange(proto, addr string, src netip.Addr, timeout time.Duration) (time.Duration, error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	msg := []byte("conduit-probe " + hex.EncodeToString(tok[:]))
	start := time.Now()
	c, err := dialer(proto, src, timeout).Dial(proto, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.SetDeadline(start.Add(timeout)); err != nil {
		return 0, err
	}
	if _, err := c.Write(msg); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	got := make([]byte, len(msg)+1)
	if proto == "tcp" {
		_, err = io.ReadFull(c, got[:len(msg)])
		got = got[:len(msg)]
	} else {
		var n int
		n, err = c.Read(got)
		got = got[:n]
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("no echo within %v", timeout)
		}
		return 0, fmt.Errorf("receive: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return 0, fmt.Errorf("echo mismatch: sent %d bytes, got %q", len(msg), got)
	}
	return time.Since(start), nil
}
