package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// latency is pingpong's JSON result; times in microseconds.
type latency struct {
	Proto  string  `json:"proto"`
	Size   int     `json:"size"`
	N      int     `json:"n"`
	Lost   int     `json:"lost"`
	P50us  float64 `json:"p50_us"`
	P90us  float64 `json:"p90_us"`
	P99us  float64 `json:"p99_us"`
	MaxUs  float64 `json:"max_us"`
	MeanUs float64 `json:"mean_us"`
}

// maxConsecutiveLoss ends a UDP run that has clearly lost its path.
const maxConsecutiveLoss = 20

// runPingPong sends one message at a time and waits for its echo,
// recording every round trip after the warm-up.
func runPingPong(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pingpong", stderr)
	proto := fs.String("proto", "udp", "udp or tcp")
	addr := fs.String("addr", "", "echo server IP:PORT")
	size := fs.Int("size", 64, "payload bytes per message (8..65000)")
	n := fs.Int("n", 20000, "measured round trips")
	warmup := fs.Int("warmup", 1000, "unmeasured round trips first")
	timeout := fs.Duration("timeout", time.Second, "per round trip (udp: counted lost)")
	src := fs.String("src", "", "source IP to bind")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *proto != "udp" && *proto != "tcp" {
		return usagef("-proto %q: want udp or tcp", *proto)
	}
	if err := needHostPort("addr", *addr); err != nil {
		return err
	}
	if *size < 8 || *size > 65000 {
		return usagef("-size %d: want 8..65000", *size)
	}
	if *n < 1 || *n > 10_000_000 || *warmup < 0 || *warmup > 10_000_000 {
		return usagef("-n must be 1..1e7 and -warmup 0..1e7")
	}
	if *timeout <= 0 {
		return usagef("-timeout must be positive")
	}
	srcAddr, err := localAddr(*src)
	if err != nil {
		return err
	}
	c, err := dialer(*proto, srcAddr, *timeout).DialContext(ctx, *proto, *addr)
	if err != nil {
		return err
	}
	defer c.Close()

	p := &pinger{c: c, tcp: *proto == "tcp", timeout: *timeout,
		out: make([]byte, *size), in: make([]byte, *size+1)}
	samples := make([]time.Duration, 0, *n)
	lost, streak := 0, 0
	for i := 0; i < *warmup+*n; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rtt, err := p.roundTrip(uint64(i))
		if err != nil {
			if p.tcp || !errors.Is(err, errTimeout) {
				return err
			}
			if streak++; streak >= maxConsecutiveLoss {
				return fmt.Errorf("%d consecutive round trips lost", streak)
			}
			if i >= *warmup {
				lost++
			}
			continue
		}
		streak = 0
		if i >= *warmup {
			samples = append(samples, rtt)
		}
	}
	res := summarize(samples)
	res.Proto, res.Size, res.N, res.Lost = *proto, *size, *n, lost
	if *asJSON {
		return writeJSON(stdout, res)
	}
	_, err = fmt.Fprintf(stdout, "%s %dB n=%d lost=%d  p50 %.1fµs  p90 %.1fµs  p99 %.1fµs  max %.1fµs  mean %.1fµs\n",
		res.Proto, res.Size, res.N, res.Lost, res.P50us, res.P90us, res.P99us, res.MaxUs, res.MeanUs)
	return err
}

var errTimeout = errors.New("timeout")

// pinger owns the buffers of one ping-pong connection.
type pinger struct {
	c       net.Conn
	tcp     bool
	timeout time.Duration
	out, in []byte
}

// roundTrip sends message seq and waits for its echo. Over UDP, echoes of
// earlier (timed-out) messages are skipped by their sequence number.
func (p *pinger) roundTrip(seq uint64) (time.Duration, error) {
	binary.BigEndian.PutUint64(p.out, seq)
	start := time.Now()
	if err := p.c.SetDeadline(start.Add(p.timeout)); err != nil {
		return 0, err
	}
	if _, err := p.c.Write(p.out); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	for {
		var n int
		var err error
		if p.tcp {
			n, err = io.ReadFull(p.c, p.in[:len(p.out)])
		} else {
			n, err = p.c.Read(p.in)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, errTimeout
			}
			return 0, fmt.Errorf("receive: %w", err)
		}
		if n == len(p.out) && binary.BigEndian.Uint64(p.in) == seq {
			return time.Since(start), nil
		}
		if p.tcp {
			return 0, fmt.Errorf("echo out of order: got seq %d, want %d", binary.BigEndian.Uint64(p.in), seq)
		}
	}
}

// summarize computes nearest-rank percentiles.
func summarize(samples []time.Duration) latency {
	var l latency
	if len(samples) == 0 {
		return l
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	l.P50us = us(percentile(samples, 50))
	l.P90us = us(percentile(samples, 90))
	l.P99us = us(percentile(samples, 99))
	l.MaxUs = us(samples[len(samples)-1])
	l.MeanUs = us(sum / time.Duration(len(samples)))
	return l
}

// percentile returns the nearest-rank p-th percentile of sorted samples.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
