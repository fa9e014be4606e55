package opcua

import (
	"log/slog"
	"strconv"

	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The stream adapter: UA TCP framing by the header's size, the chunks of
// each direction, the secure channel's security from its OPN, and the
// condition's checks; the message's fields in a verdict line.
//
// A message's service is in its first chunk, so the first chunk is judged
// and its verdict stands for the message: the chunks after it pass (a
// server acts on a message only once its final chunk arrives; in enforce
// a refused first chunk stalls the stream, so they never come), as S7's
// COTP pieces do. A chunk is judged from its first bytes (Parse reads a
// prefix): the rest of a chunk larger than the stream buffer is passed
// over, not kept.
//
// The channel's security is judged at its OPN: the policy URI is in the
// clear; the mode is in the OpenSecureChannelRequest, which is readable
// only under the None policy. Under any other policy the OPN is
// encrypted and the mode is told by the first MSG: clear (Sign) or not
// (SignAndEncrypt); a condition allowing only one of the two judges that
// MSG. On a SignAndEncrypt channel no service can be read: a condition
// naming services makes its requests unparsed-opcua.

// Request kinds (Judged): a MSG request's service (Code: its type id),
// a channel's security mode (Code: the Mode) and policy (Code: its index
// in Policies plus one).
const (
	KindService core.Kind = 7
	KindMode    core.Kind = 8
	KindPolicy  core.Kind = 9
)

// The flow's protocol word (Stream.Word): the channel's security mode once
// known, and what its first MSG must still tell.
const (
	wordMode    = 0x3  // the Mode
	wordInfer   = 0x4  // the OPN was encrypted: the first MSG tells the mode
	wordRecheck = 0x8  // the condition's modes are judged once the mode is known
	wordOpened  = 0x10 // an OPN was seen on this flow
	// The channel's policy for the verdict line: its index in Policies
	// plus one (0: not seen, or not a standard one).
	wordPolicyShift = 8
	wordPolicy      = 0xf << wordPolicyShift
)

// Why a request cannot be judged (unparsed-opcua details).
const (
	detailEncrypted = "sign-and-encrypt-channel-services-unreadable"
	detailSplit     = "service-type-split-across-chunks"
	detailUnseen    = "secure-channel-opened-before-inspection"
	errStray        = "chunk-of-another-message"
)

type inspector struct {
	core.Sealed
	m Message
}

// streamMax is the engine's stream buffer, the most it keeps of an
// unfinished PDU (4 KB; TestInspectOPCUAChunks fails if they part).
const streamMax = 4096

// Declared is the chunk size the message header declares, or 0 ("cannot
// tell yet") for a chunk larger than the stream buffer while fewer bytes
// than that came: Parse judges it from a prefix, so the stream keeps what
// came until the prefix is there instead of giving the chunk up as
// oversize.
func (*inspector) Declared(b []byte) int {
	if n := FrameLen(b); n <= streamMax || len(b) >= streamMax {
		return n
	}
	return 0
}

// PDU judges the message chunk at the start of b. n may exceed len(b):
// the chunk was judged from its first bytes, and the engine passes over
// the rest.
func (in *inspector) PDU(j core.Judge, c core.Cond, s *core.Stream, b []byte, off uint32) (int, core.Status) {
	cond := c.(*Cond)
	m := &in.m
	w, a := &s.Word, &s.Asm
	ch := loadChunks(a)
	n, err := Parse(b, Hint{Mode: Mode(*w & wordMode), Continues: ch.Open()}, m)
	if err != pdu.OK {
		e, n, st := core.Refused(j, n, err, off)
		if e != nil && n > 0 {
			event(e, m, *w)
		}
		if st == core.Lost {
			a.Active = false
		}
		return n, st
	}
	kind := ch.Next(m)
	storeChunks(a, ch)
	if kind == KindStray {
		if e := j.Malformed(errStray, "", off); e != nil {
			event(e, m, *w)
		}
		return n, core.OK
	}
	if s.Side == core.Response {
		in.response(j, m, kind, *w, off)
		return n, core.OK
	}
	switch m.Type {
	case TypeOpen:
		if kind == KindSingle || kind == KindFirst {
			in.open(j, cond, m, w, off)
		}
	case TypeMessage:
		in.settle(j, cond, m, w, off)
		if kind == KindSingle || kind == KindFirst {
			in.service(j, cond, m, *w, off)
		}
	case TypeClose:
		in.settle(j, cond, m, w, off)
	}
	return n, core.OK
}

// open judges a client's OPN: its policy, and its mode where the OPN
// shows it (None) or a mode the condition refuses whatever it is.
func (in *inspector) open(j core.Judge, c *Cond, m *Message, w *uint16, off uint32) {
	mode := ModeUnknown
	if !m.Encrypted {
		mode = ModeNone
		if m.HasMode {
			mode = m.SecurityMode
		}
	}
	*w = wordOpened | uint16(mode) | uint16(policyIndex(m.Policy))<<wordPolicyShift
	if mode == ModeUnknown {
		*w |= wordInfer
	}
	if i := policyIndex(m.Policy); i > 0 {
		j.Seen(core.Judged{Kind: KindPolicy, Code: uint16(i), Failure: c.CheckPolicy(m.Policy)})
	}
	if mode != ModeUnknown {
		f, _ := c.CheckMode(mode)
		j.Seen(core.Judged{Kind: KindMode, Code: uint16(mode), Failure: f})
	}
	f := c.CheckPolicy(m.Policy)
	if f == core.Pass {
		var pending bool
		if f, pending = c.CheckMode(mode); pending {
			*w |= wordRecheck
		}
	}
	if f != core.Pass {
		if e := j.Violation(f, off); e != nil {
			event(e, m, *w)
		}
	}
}

// settle learns the mode of a channel whose OPN was encrypted from its
// first MSG or CLO, and judges it if the condition allows only one of
// Sign and SignAndEncrypt.
func (in *inspector) settle(j core.Judge, c *Cond, m *Message, w *uint16, off uint32) {
	if *w&wordInfer == 0 {
		return
	}
	mode := ModeSign
	if m.Encrypted {
		mode = ModeSignAndEncrypt
	}
	recheck := *w&wordRecheck != 0
	*w = *w&^(wordInfer|wordRecheck|wordMode) | uint16(mode)
	f, _ := c.CheckMode(mode)
	j.Seen(core.Judged{Kind: KindMode, Code: uint16(mode), Failure: f})
	if recheck && f != core.Pass {
		if e := j.Violation(f, off); e != nil {
			event(e, m, *w)
		}
	}
}

// service judges the first chunk of a MSG request.
func (in *inspector) service(j core.Judge, c *Cond, m *Message, w uint16, off uint32) {
	var detail string
	switch {
	case w&wordOpened == 0 && (len(c.Modes) > 0 || len(c.Policies) > 0):
		detail = detailUnseen // the channel's security was never judged
	case !c.NamesServices():
	case m.Encrypted:
		detail = detailEncrypted
	case m.Split || !m.HasType:
		detail = detailSplit
	}
	if detail != "" {
		if e := j.Unparsed(detail, off); e != nil {
			event(e, m, w)
		}
		return
	}
	if m.Encrypted || !m.HasType {
		j.Count() // nothing to judge by: the condition names no service
		return
	}
	f := c.CheckService(m)
	code := uint16(0)
	if m.TypeID <= 0xffff && m.TypeNS == 0 {
		code = uint16(m.TypeID)
	}
	j.Seen(core.Judged{Kind: KindService, Code: code, Failure: f, Counted: f == core.Pass})
	if f != core.Pass {
		if e := j.Violation(f, off); e != nil {
			event(e, m, w)
		}
		return
	}
	j.Count()
}

// response reports a server's errors: ERR, an aborted message, a
// ServiceFault or a response whose service result is Bad.
func (in *inspector) response(j core.Judge, m *Message, kind Kind, w uint16, off uint32) {
	bad := m.Type == TypeError || kind == KindAbort && m.ErrorCode&statusBad != 0 ||
		(kind == KindSingle || kind == KindFirst) && m.HasResult && m.ServiceResult&statusBad != 0
	if bad {
		if e := j.Notice(off); e != nil {
			event(e, m, w)
		}
	}
}

// statusBad is a StatusCode's Bad severity bit.
const statusBad = 0x80000000

// loadChunks and storeChunks keep a direction's Chunks in its reassembly
// state, which the engine keeps while the flow's packets pass: Active is
// an open message (Decided: its first chunk was judged, nothing is
// gathered), B its service and flags, H its request id.
func loadChunks(a *core.Asm) Chunks {
	if !a.Active {
		return Chunks{}
	}
	return Chunks{open: true, service: Service(a.B[0]), known: a.B[1]&1 != 0, response: a.B[1]&2 != 0,
		requestID: uint32(a.H[0]) | uint32(a.H[1])<<16, count: 1}
}

func storeChunks(a *core.Asm, c Chunks) {
	if !c.open {
		a.Active = false
		return
	}
	a.Active, a.Decided, a.B[0], a.B[1] = true, true, uint8(c.service), 0
	if c.known {
		a.B[1] |= 1
	}
	if c.response {
		a.B[1] |= 2
	}
	a.H[0], a.H[1] = uint16(c.requestID), uint16(c.requestID>>16)
}

// policyIndex is a standard policy's index in Policies plus one, 0 for
// another URI.
func policyIndex(uri []byte) int {
	s := PolicySuffix(uri)
	if len(s) == len(uri) {
		return 0
	}
	for i, p := range Policies {
		if string(s) == p {
			return i + 1
		}
	}
	return 0
}

// The message's fields in an Event.
const (
	bType, bChunk, bService, bMode, bResp = 0, 1, 2, 3, 4
	wTypeID, wRequest, wChannel, wStatus  = 0, 1, 2, 3

	hasMsg, hasType, hasRequest, hasMode, hasPolicy, hasStatus uint16 = 1, 2, 4, 8, 16, 32
)

// event records a message chunk and the channel's mode (the flow word).
func event(e *core.Event, m *Message, w uint16) {
	e.B[bType], e.B[bChunk], e.W[wChannel], e.Has = uint8(m.Type), m.Chunk, m.ChannelID, e.Has|hasMsg
	if m.HasType {
		e.B[bService], e.W[wTypeID], e.Has = uint8(m.Service), m.TypeID, e.Has|hasType
		if m.Response {
			e.B[bResp] = 1
		}
	}
	if m.Type >= TypeOpen && !m.Encrypted {
		e.W[wRequest], e.Has = m.RequestID, e.Has|hasRequest
	}
	if mode := Mode(w & wordMode); mode != ModeUnknown {
		e.B[bMode], e.Has = uint8(mode), e.Has|hasMode
	}
	switch i := int(w&wordPolicy) >> wordPolicyShift; {
	case m.Type == TypeOpen:
		e.SetText(PolicySuffix(m.Policy))
		e.Has |= hasPolicy
	case i > 0 && i <= len(Policies):
		e.TextLen = uint8(copy(e.Text[:], Policies[i-1]))
		e.Has |= hasPolicy
	}
	switch {
	case m.Type == TypeError || m.Chunk == ChunkAbort:
		e.W[wStatus], e.Has = m.ErrorCode, e.Has|hasStatus
	case m.HasResult:
		e.W[wStatus], e.Has = m.ServiceResult, e.Has|hasStatus
	}
}

// attrs renders an event's message fields.
func attrs(e *core.Event, as []slog.Attr) []slog.Attr {
	if e.Has&hasMsg == 0 {
		return as
	}
	as = append(as, slog.String("message", Type(e.B[bType]).String()), slog.String("chunk", string(rune(e.B[bChunk]))),
		slog.Int("channel_id", int(e.W[wChannel])))
	if e.Has&hasType != 0 {
		name := Service(e.B[bService]).String()
		if e.B[bResp] != 0 && Service(e.B[bService]) != ServiceFault {
			name += "_response"
		}
		if Service(e.B[bService]) == ServiceUnknown {
			name = ""
		}
		as = core.NameAttrs(as, "service", name, int(e.W[wTypeID]))
	}
	if e.Has&hasRequest != 0 {
		as = append(as, slog.Int("request_id", int(e.W[wRequest])))
	}
	if e.Has&hasMode != 0 {
		as = append(as, slog.String("security_mode", Mode(e.B[bMode]).String()))
	}
	if e.Has&hasPolicy != 0 {
		as = append(as, slog.String("security_policy", e.TextString()))
	}
	if e.Has&hasStatus != 0 {
		as = append(as, slog.String("status", "0x"+strconv.FormatUint(uint64(e.W[wStatus]), 16)))
	}
	return as
}
