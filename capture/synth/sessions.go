package synth

import "time"

// tcpConn is one TCP connection between a client and a server.
type tcpConn struct {
	c, s         *host
	cport, sport uint16
	cseq, sseq   uint32
}

func newConn(g *gen, c, s *host, sport uint16) *tcpConn {
	return &tcpConn{c: c, s: s, cport: uint16(49152 + g.rng.intn(16000)), sport: sport,
		cseq: uint32(g.rng.next()), sseq: uint32(g.rng.next())}
}

// fromClient and fromServer emit a segment of the connection at t and
// advance the sender's sequence number past its data (and its SYN or
// FIN), so each exchange below is the order of its segments and their
// delays.
func (k *tcpConn) fromClient(g *gen, t int64, flags uint8, data []byte) {
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, flags, data))
	k.cseq += seqLen(flags, data)
}

func (k *tcpConn) fromServer(g *gen, t int64, flags uint8, data []byte) {
	g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, flags, data))
	k.sseq += seqLen(flags, data)
}

// seqLen is how far a segment moves its sender's sequence number.
func seqLen(flags uint8, data []byte) uint32 {
	n := uint32(len(data))
	if flags&(syn|fin) != 0 {
		n++
	}
	return n
}

// delay bounds, in milliseconds, the wait before a segment (gen.ms).
type delay struct{ lo, hi float64 }

var (
	// handshake: the server's SYN-ACK (or FIN) and the client's ACK.
	handshake = [2]delay{{0.2, 2}, {0.05, 0.3}}
	// request: the server's work and the client's delayed ACK.
	request = [2]delay{{1, 15}, {40, 200}}
)

// volley sends the client's segment (flags c, data cd), the server's
// answer (s, sd) after ds[0] and the client's ACK after ds[1]: the
// handshake, a request and its response, the orderly close. It returns
// the time of the last frame.
func (k *tcpConn) volley(g *gen, t int64, c uint8, cd []byte, s uint8, sd []byte, ds [2]delay) int64 {
	k.fromClient(g, t, c, cd)
	t += g.ms(ds[0].lo, ds[0].hi)
	k.fromServer(g, t, s, sd)
	t += g.ms(ds[1].lo, ds[1].hi)
	k.fromClient(g, t, ack, nil)
	return t
}

// open is the three-way handshake starting at t.
func (k *tcpConn) open(g *gen, t int64) int64 {
	return k.volley(g, t, syn, nil, syn|ack, nil, handshake)
}

// exchange sends a request and its response, then the client's delayed
// ACK.
func (k *tcpConn) exchange(g *gen, t int64, req, resp []byte) int64 {
	return k.volley(g, t, psh|ack, req, psh|ack, resp, request)
}

// close is an orderly shutdown from the client.
func (k *tcpConn) close(g *gen, t int64) int64 {
	return k.volley(g, t, fin|ack, nil, fin|ack, nil, handshake)
}

// serverPush sends data from the server (an unsolicited response) that
// the client acknowledges with data of its own (a confirm), or with a
// bare ACK when confirm is nil.
func (k *tcpConn) serverPush(g *gen, t int64, data, confirm []byte) int64 {
	k.fromServer(g, t, psh|ack, data)
	t += g.ms(1, 10)
	if confirm == nil {
		k.fromClient(g, t, ack, nil)
		return t
	}
	k.fromClient(g, t, psh|ack, confirm)
	t += g.ms(40, 200)
	k.fromServer(g, t, ack, nil)
	return t
}

// clientPush sends data the server only acknowledges.
func (k *tcpConn) clientPush(g *gen, t int64, data []byte) int64 {
	k.fromClient(g, t, psh|ack, data)
	t += g.ms(0.2, 3)
	k.fromServer(g, t, ack, nil)
	return t
}

// pause is an idle period inside a polling session.
type pause struct {
	after, length time.Duration // from the start of the capture
}

// poller drives a connection that polls at a fixed interval: an opening
// (handshake plus protocol setup) unless the capture starts mid-session,
// then one exchange per interval, with optional pauses.
type poller struct {
	conn     *tcpConn
	every    time.Duration
	midway   bool // the session predates the capture: no handshake
	setup    func(g *gen, k *tcpConn, t int64) int64
	poll     func(g *gen, k *tcpConn, t int64, n int) int64
	pauses   []pause
	n        int
	opened   bool
	deadline int64 // close the connection at this time (0: never)
}

func (p *poller) run(g *gen, now int64) int64 {
	if !p.opened {
		p.opened = true
		t := now
		if !p.midway {
			t = p.conn.open(g, now)
			if p.setup != nil {
				t = p.setup(g, p.conn, t+g.ms(0.5, 3))
			}
		}
		return t + g.jitter(p.every, 0.05)
	}
	if p.deadline > 0 && now >= p.deadline {
		p.conn.close(g, now)
		return -1
	}
	p.poll(g, p.conn, now, p.n)
	p.n++
	next := now + g.jitter(p.every, 0.05)
	for _, ps := range p.pauses {
		at := g.start + int64(ps.after)
		if now < at && next >= at {
			next = at + int64(ps.length)
		}
	}
	return next
}
