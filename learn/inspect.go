package learn

import (
	"encoding/binary"
	"strconv"

	"github.com/conduit-ot/conduit/engine/dnp3"
	"github.com/conduit-ot/conduit/engine/enip"
	"github.com/conduit-ot/conduit/engine/modbus"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/engine/s7"
	"github.com/conduit-ot/conduit/rules"
)

// The PDU walk of the engine's protocol inspection (engine/inspect.go),
// mirrored: where the engine judges a request against a rule's condition,
// learn records it (Service.Functions, named as a condition names it);
// where the engine finds traffic it cannot judge, learn counts it
// (Service.Unparsed), since a rule with a condition drops that traffic
// unless on_unparsed allows it. Both directions are walked: the engine
// refuses a malformed response too, and judges a DNP3 master's requests
// whichever side opened the connection.

// appOf is the industrial protocol learn reads on a service, by its port.
func appOf(proto uint8, port uint16) rules.AppProto {
	switch {
	case port == 502 && proto == packet.ProtoTCP:
		return rules.AppModbus
	case port == 20000 && (proto == packet.ProtoTCP || proto == packet.ProtoUDP):
		return rules.AppDNP3
	case port == 102 && proto == packet.ProtoTCP:
		return rules.AppS7
	case port == 44818 && (proto == packet.ProtoTCP || proto == packet.ProtoUDP):
		return rules.AppENIP
	}
	return rules.AppNone
}

// Function is one industrial request type: the policy condition it
// belongs to (modbus, dnp3, s7, s7-userdata, enip, cip) and its name
// there, a word of the condition's vocabulary or a number.
type Function struct {
	Proto, Name string
}

func (f Function) String() string { return f.Proto + " " + f.Name }

// The engine's verdict reasons for traffic inspection cannot judge.
var (
	malformedReason = [...]string{rules.AppModbus: "malformed-modbus", rules.AppDNP3: "malformed-dnp3",
		rules.AppENIP: "malformed-enip", rules.AppS7: "malformed-s7"}
	unparsedReason = [...]string{rules.AppModbus: "unparsed-modbus", rules.AppDNP3: "unparsed-dnp3",
		rules.AppENIP: "unparsed-enip", rules.AppS7: "unparsed-s7"}
)

const reasonStreamGap = "stream-gap"

// pduStatus is how a PDU at the start of a buffer went.
type pduStatus uint8

const (
	pduOK    pduStatus = iota // framed (recorded or found malformed): n bytes consumed
	pduShort                  // continues beyond the buffer
	pduLost                   // cannot be framed: the rest of the stream cannot be walked
)

// inspector walks one packet's payload of one direction of a flow.
type inspector struct {
	svc   *Service
	proto rules.AppProto
	side  int
	dir   *streamDir // the TCP direction (nil for a datagram)
	asm   *assembly  // the side's reassembly
	s7PDU *uint16

	large  bool // the unfinished PDU outgrew streamBuf: dir keeps a large buffer
	lost   bool
	skip   uint32
	reason string // the first traffic of the packet that cannot be judged

	noAsm   assembly // for datagrams of protocols that keep no state
	noS7PDU uint16
	join    [pduMax]byte
	mb      modbus.PDU
	dn      dnp3.Frame
	s7p     s7.PDU
	en      enip.PDU
}

// inspect walks the payload of a packet of f, whose service speaks app,
// as the engine would walk it under a rule with a condition.
func (l *Learner) inspect(f *flow, app rules.AppProto, toServer bool) {
	p := &l.p
	in := &l.in
	side := reqSide
	if !toServer {
		side = rspSide
	}
	in.svc, in.proto, in.side, in.dir = f.svc, app, side, nil
	in.large, in.lost, in.skip, in.reason = false, false, 0, ""
	in.noAsm, in.noS7PDU = assembly{}, 0
	in.asm, in.s7PDU = &in.noAsm, &in.noS7PDU
	defer in.done()
	if p.Fragment != packet.NotFragment {
		// The first piece of a datagram the kernel did not reassemble.
		in.unparsed(unparsedReason[app], "ip-fragment")
		return
	}
	st := f.app
	if st == nil && (p.Proto == packet.ProtoTCP || app == rules.AppDNP3) {
		st = &appStream{}
		f.app = st
	}
	if p.Proto != packet.ProtoTCP {
		// A datagram stands alone: whole PDUs only, but a DNP3 fragment
		// may span datagrams.
		if len(p.Payload) == 0 {
			return
		}
		if st != nil {
			in.asm, in.s7PDU = &st.asm[side], &st.s7PDU
		}
		if in.walk(nil, p.Payload) > 0 {
			in.unparsed(malformedReason[app], "datagram-ends-inside-a-pdu")
		}
		in.settle()
		return
	}
	if p.TCPFlags&packet.TCPAck != 0 {
		st.dir[1-side].ack(p.Ack)
	}
	sd := &st.dir[side]
	seq := p.Seq
	if p.TCPFlags&packet.TCPSyn != 0 {
		sd.sync(seq + 1)
		seq++
		st.asm[side] = assembly{buf: st.asm[side].buf[:0]} // a new connection: nothing pending
	}
	in.dir, in.asm, in.s7PDU = sd, &st.asm[side], &st.s7PDU
	if len(p.Payload) == 0 || p.TCPFlags&packet.TCPRst != 0 {
		return
	}
	if !sd.synced {
		sd.sync(seq) // picked up mid-stream: inspection starts here
	}
	kind, data := sd.locate(seq, p.Payload)
	switch kind {
	case segOld:
		return
	case segGap, segMismatch:
		// The draft lets it through (on_unparsed: allow): inspection
		// starts over here, as the engine's does, giving up a PDU being
		// gathered.
		in.unparsed(reasonStreamGap, "")
		sd.sync(seq)
		data = p.Payload
		in.asm.active = false
	}
	skip := sd.skip
	walked := data
	if skip > 0 {
		k := min(skip, uint32(len(walked)))
		walked, skip = walked[k:], skip-k
	}
	var rest int
	if sd.lost || skip > 0 {
		rest = in.walk(nil, walked)
	} else {
		rest = in.walk(sd.unfinished(), walked)
	}
	if in.skip > 0 {
		skip = in.skip
	}
	if in.lost {
		rest = 0
		in.asm.active = false // its pieces cannot be told apart any more
	}
	sd.lost = in.lost
	sd.commit(data, rest, in.large)
	sd.skip = skip
	in.settle()
}

// settle drops the bytes of a reassembly that is over or decided.
func (in *inspector) settle() {
	if a := in.asm; !a.active || a.decided {
		a.buf = a.buf[:0]
	}
}

// done counts the packet as unparsed if anything in it was: the engine
// decides a packet by the first such PDU.
func (in *inspector) done() {
	if in.reason == "" {
		return
	}
	s := in.svc
	if s.Unparsed == nil {
		s.Unparsed = map[string]uint64{}
	}
	s.Unparsed[in.reason]++
}

func (in *inspector) unparsed(reason, detail string) {
	if in.reason != "" {
		return
	}
	if detail != "" {
		reason += " (" + detail + ")"
	}
	in.reason = reason
}

// request records a request the engine judges; n is 0 where it judges a
// request's first piece and counts it when the last one completes it.
func (in *inspector) request(proto, name string, n uint64) {
	s := in.svc
	if s.Functions == nil {
		s.Functions = map[string]uint64{}
	}
	s.Functions[Function{proto, name}.String()] += n
}

// walk records the PDUs of part ++ data, where part is the unfinished PDU
// kept from earlier segments, and returns the length of the unfinished
// PDU at the end.
func (in *inspector) walk(part, data []byte) int {
	pos := 0
	if len(part) > 0 {
		j := in.join[:]
		k := copy(j, part)
		k += copy(j[k:], data)
		n, st := in.pdu(j[:k])
		switch st {
		case pduShort:
			return in.keep(j[:k], len(part)+len(data), k == len(j))
		case pduLost:
			return 0
		}
		pos = n - len(part)
	}
	for pos < len(data) {
		n, st := in.pdu(data[pos:])
		switch st {
		case pduShort:
			rest := data[pos:]
			return in.keep(rest, len(rest), len(rest) >= pduMax)
		case pduLost:
			return 0
		}
		pos += n
	}
	return 0
}

// keep decides about the unfinished PDU b at the end of the stream (avail
// bytes of it so far, full if b reached pduMax): kept whole, in a large
// buffer beyond streamBuf, or passed over.
func (in *inspector) keep(b []byte, avail int, full bool) int {
	switch {
	case full || in.declared(b) > pduMax:
		return in.oversize(b, avail)
	case avail > streamBuf && in.dir != nil && !in.dir.large:
		in.large = true
	}
	return avail
}

// oversize: a PDU declaring more than the engine keeps is passed over
// unparsed; a request that large cannot be judged.
func (in *inspector) oversize(b []byte, avail int) int {
	total := in.declared(b)
	if in.side == reqSide {
		in.unparsed(unparsedReason[in.proto], "pdu-larger-than-stream-buffer")
	}
	if in.asm.active {
		in.asm.decided = true // a piece of it goes unseen
	}
	if total > avail {
		in.skip = uint32(total - avail)
	}
	return 0
}

// declared is the length a PDU's header announces, 0 if b is too short.
func (in *inspector) declared(b []byte) int {
	switch in.proto {
	case rules.AppModbus:
		if len(b) >= 6 {
			return 6 + int(binary.BigEndian.Uint16(b[4:6]))
		}
	case rules.AppDNP3:
		if len(b) >= 3 {
			return dnp3.FrameLen(b[2])
		}
	case rules.AppENIP:
		if len(b) >= 4 {
			return enip.HeaderLen + int(binary.LittleEndian.Uint16(b[2:4]))
		}
	case rules.AppS7:
		if len(b) >= 4 {
			return int(binary.BigEndian.Uint16(b[2:4]))
		}
	}
	return 0
}

func (in *inspector) pdu(b []byte) (int, pduStatus) {
	switch in.proto {
	case rules.AppModbus:
		return in.modbus(b)
	case rules.AppDNP3:
		return in.dnp3(b)
	case rules.AppENIP:
		return in.enip(b)
	case rules.AppS7:
		return in.s7(b)
	}
	return 0, pduLost
}

// malformed notes a PDU the parser refused; n > 0 means its framing was
// sound and the walk goes on after it.
func (in *inspector) malformed(n int, err string) (int, pduStatus) {
	in.unparsed(malformedReason[in.proto], err)
	if n == 0 {
		in.lost = true
		return 0, pduLost
	}
	return n, pduOK
}

func (in *inspector) modbus(b []byte) (int, pduStatus) {
	p := &in.mb
	dir := modbus.Request
	if in.side == rspSide {
		dir = modbus.Response
	}
	n, err := modbus.Parse(b, dir, p)
	switch {
	case err == modbus.ErrShort:
		return 0, pduShort
	case err != modbus.OK:
		return in.malformed(n, string(err))
	}
	if in.side == reqSide {
		in.request("modbus", modbusName(p), 1)
		in.svc.units.add(p.UnitID)
	}
	return n, pduOK
}

// modbusName names a request's function as a condition must list it:
// read_device_identification is function 43 with MEI type 14 only, so 43
// with another MEI type is named by its number (any MEI type).
func modbusName(p *modbus.PDU) string {
	if p.Function == modbus.EncapsulatedInterface && p.MEIType != modbus.MEIReadDeviceIdentification {
		return strconv.Itoa(int(p.Function))
	}
	return nameOr(modbus.FunctionName(p.Function), int(p.Function))
}

// dnp3 follows the engine's DNP3 inspection under a condition that lists
// functions only: a request's function is judged by its first transport
// segment, and the request counted when FIN completes the fragment; a
// later segment without its first, or out of sequence, is unparsed.
func (in *inspector) dnp3(b []byte) (int, pduStatus) {
	f := &in.dn
	n, err := dnp3.Parse(b, f)
	switch {
	case err == dnp3.ErrShort:
		return 0, pduShort
	case err != dnp3.OK:
		if f.FIR() {
			in.asm.active = false
		}
		return in.malformed(n, string(err))
	}
	request := f.HasApp && f.App.Function != dnp3.FuncConfirm && !dnp3.IsResponse(f.App.Function)
	if !request && !f.FromMaster() {
		return n, pduOK
	}
	a := in.asm
	name := nameOr(dnp3.FunctionName(f.App.Function), int(f.App.Function))
	switch {
	case f.LinkOnly:
	case !f.FIR():
		detail := ""
		switch {
		case !a.active || f.Source != a.src || f.Destination != a.dst:
			detail = "segment-without-its-first"
		case f.Seq() != a.seq:
			detail = "segment-out-of-sequence"
			a.active = false
		}
		if detail != "" {
			in.unparsed(unparsedReason[rules.AppDNP3], detail)
			break
		}
		a.seq = (a.seq + 1) & 0x3f
		if f.FIN() {
			a.active = false
			if !a.decided {
				in.request("dnp3", a.pending, 1)
			}
		}
	case !request:
		a.active = false // a FIR starts a new fragment
	case f.FIN():
		a.active = false
		in.request("dnp3", name, 1)
	default:
		*a = assembly{buf: a.buf[:0], active: true, seq: (f.Seq() + 1) & 0x3f, src: f.Source, dst: f.Destination, pending: name}
		in.request("dnp3", name, 0)
	}
	return n, pduOK
}

func (in *inspector) enip(b []byte) (int, pduStatus) {
	p := &in.en
	dir := enip.Request
	if in.side == rspSide {
		dir = enip.Response
	}
	n, err := enip.Parse(b, dir, p)
	switch {
	case err == enip.ErrShort:
		return 0, pduShort
	case err != enip.OK:
		return in.malformed(n, string(err))
	}
	if in.side == rspSide {
		return n, pduOK
	}
	in.request("enip", nameOr(enip.CommandName(p.Encap.Command), int(p.Encap.Command)), 1)
	if p.Truncated() {
		in.unparsed(unparsedReason[rules.AppENIP], "more-cip-messages-than-recorded")
		return n, pduOK
	}
	for _, m := range p.Messages() {
		// Envelopes are not judged: the requests inside them are.
		if !m.Response && !rules.Envelope(&m) {
			in.request("cip", nameOr(enip.ServiceName(m.Service, m.Class), int(m.Service)), 1)
		}
	}
	return n, pduOK
}

// s7 follows the engine's S7 inspection: a PDU that COTP split over DT
// TPDUs is judged by its first piece when that shows the request, and
// whole (and counted) when the last piece completes it.
func (in *inspector) s7(b []byte) (int, pduStatus) {
	p := &in.s7p
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	var n int
	var err s7.Error
	if in.asm.active {
		n, err = s7.ParseTPKT(b, dir, p)
	} else {
		n, err = s7.Parse(b, dir, p)
	}
	switch {
	case err == s7.ErrShort:
		return 0, pduShort
	case err != s7.OK:
		return in.malformed(n, string(err))
	}
	switch {
	case in.asm.active:
		if p.COTP.Type == s7.COTPData {
			in.s7Piece(p.COTP.Data, p.COTP.EOT)
		}
	case p.Kind == s7.KindFragment:
		*in.asm = assembly{buf: in.asm.buf[:0], active: true}
		if in.side == reqSide {
			in.asm.decided = in.s7FirstPiece(p.COTP.Data)
		}
		in.s7Piece(p.COTP.Data, false)
	case p.Kind == s7.KindS7Plus || p.Kind == s7.KindS7:
		in.s7Whole(p)
	}
	return n, pduOK
}

// s7Piece adds a DT's data to the pending PDU; eot completes it.
func (in *inspector) s7Piece(d []byte, eot bool) {
	a := in.asm
	if !a.decided {
		limit := asmMax
		if *in.s7PDU != 0 {
			limit = min(limit, int(*in.s7PDU))
		}
		if len(a.buf)+len(d) > limit {
			detail := "pdu-larger-than-reassembly-buffer"
			if limit < asmMax {
				detail = "pdu-larger-than-negotiated"
			}
			in.unparsed(unparsedReason[rules.AppS7], detail)
			a.decided = true
		} else {
			a.buf = append(a.buf, d...)
		}
	}
	if !eot {
		return
	}
	a.active = false
	if a.decided {
		return
	}
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	if err := s7.ParseS7(a.buf, dir, &in.s7p); err != s7.OK {
		in.unparsed(malformedReason[rules.AppS7], string(err))
		return
	}
	in.s7Whole(&in.s7p)
}

// s7Whole records a whole S7 PDU of the client: a job (by function) or a
// userdata request (by group); other message types are not requests.
func (in *inspector) s7Whole(p *s7.PDU) {
	if p.Kind == s7.KindS7Plus {
		if in.side == reqSide {
			in.unparsed(unparsedReason[rules.AppS7], "s7comm-plus")
		}
		return
	}
	if p.HasFunction && p.Function == s7.FuncSetupCommunication && p.PDUSize != 0 {
		*in.s7PDU = p.PDUSize // asked for by the client, then granted by the server
	}
	if in.side == reqSide {
		in.s7Request(p.ROSCTR, p.Function, p.HasFunction, p.UserdataType, p.Group, 1)
	}
}

// s7Request records a job or a userdata request, n times.
func (in *inspector) s7Request(rosctr, function uint8, hasFunction bool, udType, group uint8, n uint64) {
	switch {
	case rosctr == s7.ROSCTRJob && hasFunction:
		in.request("s7", nameOr(s7.FunctionName(function), int(function)), n)
	case rosctr == s7.ROSCTRUserdata && udType == s7.UserdataRequest:
		in.request("s7-userdata", nameOr(s7.GroupName(group), int(group)), n)
	}
}

// s7FirstPiece records the request the first piece of a split PDU shows,
// which the engine judges at once, and returns whether the piece decided
// the PDU (S7comm-plus or not S7: unparsed).
func (in *inspector) s7FirstPiece(d []byte) bool {
	const hdr = s7.HeaderLen
	switch {
	case len(d) > 0 && d[0] == s7.ProtocolS7Plus:
		in.unparsed(unparsedReason[rules.AppS7], "s7comm-plus")
		return true
	case len(d) > 0 && d[0] != s7.ProtocolS7:
		in.unparsed(malformedReason[rules.AppS7], string(s7.ErrProtocolID))
		return true
	case len(d) < hdr:
		return false
	}
	h := s7.Header(d)
	switch rosctr := h.ROSCTR(); {
	case rosctr == s7.ROSCTRJob && h.ParamLen() >= 1 && len(d) > hdr:
		in.s7Request(rosctr, d[hdr], true, 0, 0, 0)
	case rosctr == s7.ROSCTRUserdata && h.ParamLen() >= 8 && len(d) > hdr+5:
		in.s7Request(rosctr, 0, false, d[hdr+5]>>4, d[hdr+5]&0x0f, 0)
	}
	return false
}

func nameOr(name string, code int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(code)
}
