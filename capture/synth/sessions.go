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

// open is the three-way handshake starting at t; it returns when the
// client's ACK left.
func (k *tcpConn) open(g *gen, t int64) int64 {
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, 0, syn, nil))
	k.cseq++
	t += g.ms(0.2, 2)
	g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, syn|ack, nil))
	k.sseq++
	t += g.ms(0.05, 0.3)
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, ack, nil))
	return t
}

// exchange sends a request and its response, then the client's delayed
// ACK; it returns the time of the last frame.
func (k *tcpConn) exchange(g *gen, t int64, req, resp []byte) int64 {
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, psh|ack, req))
	k.cseq += uint32(len(req))
	t += g.ms(1, 15)
	g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, psh|ack, resp))
	k.sseq += uint32(len(resp))
	t += g.ms(40, 200)
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, ack, nil))
	return t
}

// serverPush sends data from the server (an unsolicited response) that
// the client acknowledges with data of its own (a confirm), or with a
// bare ACK when confirm is nil.
func (k *tcpConn) serverPush(g *gen, t int64, data, confirm []byte) int64 {
	g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, psh|ack, data))
	k.sseq += uint32(len(data))
	t += g.ms(1, 10)
	flags := uint8(ack)
	if confirm != nil {
		flags |= psh
	}
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, flags, confirm))
	k.cseq += uint32(len(confirm))
	if confirm != nil {
		t += g.ms(40, 200)
		g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, ack, nil))
	}
	return t
}

// clientPush sends data the server only acknowledges.
func (k *tcpConn) clientPush(g *gen, t int64, data []byte) int64 {
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, psh|ack, data))
	k.cseq += uint32(len(data))
	t += g.ms(0.2, 3)
	g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, ack, nil))
	return t
}

// close is an orderly shutdown from the client.
func (k *tcpConn) close(g *gen, t int64) int64 {
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, fin|ack, nil))
	k.cseq++
	t += g.ms(0.2, 2)
	g.emit(t, tcpFrame(k.s.spec(k.c), k.sport, k.cport, k.sseq, k.cseq, fin|ack, nil))
	k.sseq++
	t += g.ms(0.05, 0.3)
	g.emit(t, tcpFrame(k.c.spec(k.s), k.cport, k.sport, k.cseq, k.sseq, ack, nil))
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
