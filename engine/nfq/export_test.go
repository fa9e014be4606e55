package nfq

// What the external tests of this package reach inside for.

const (
	CtVerdictSize     = ctVerdictSize
	CtVerdictMarkSize = ctVerdictMarkSize
	MaxMessage        = maxMessage
)

var ParsePacket = parsePacket

// WithDatagram returns a queue without a socket (fd -1, so reading past
// what it holds fails instead of blocking) holding dgram as the last
// recvmmsg left it.
func WithDatagram(dgram []byte) *Queue {
	q := newQueue(-1, 3, 1)
	n := copy(q.bufs[0], dgram)
	q.hdrs[0].Len, q.nd, q.di = uint32(n), 1, 0
	q.rest = q.bufs[0][:n]
	return q
}
