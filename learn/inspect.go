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

	dnp3Cont bool
	s7Frag   bool
	lost     bool
	skip     uint32
	reason   string // the first traffic of the packet that cannot be judged

	join [streamBuf]byte
	mb   modbus.PDU
	dn   dnp3.Frame
	s7   s7.PDU
	en   enip.PDU
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
	in.svc, in.proto, in.side = f.svc, app, side
	in.dnp3Cont, in.s7Frag, in.lost, in.skip, in.reason = false, false, false, 0, ""
	defer in.done()
	if p.Fragment != packet.NotFragment {
		// The first piece of a datagram the kernel did not reassemble.
		in.unparsed(unparsedReason[app], "ip-fragment")
		return
	}
	if p.Proto != packet.ProtoTCP {
		// A datagram stands alone: whole PDUs only.
		if len(p.Payload) > 0 && in.walk(nil, p.Payload) > 0 {
			in.unparsed(malformedReason[app], "datagram-ends-inside-a-pdu")
		}
		return
	}
	st := f.app
	if st == nil {
		st = &appStream{}
		f.app = st
	}
	if p.TCPFlags&packet.TCPAck != 0 {
		st.dir[1-side].ack(p.Ack)
	}
	sd := &st.dir[side]
	seq := p.Seq
	if p.TCPFlags&packet.TCPSyn != 0 {
		sd.sync(seq + 1)
		seq++
	}
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
		// starts over here, as the engine's does.
		in.unparsed(reasonStreamGap, "")
		sd.sync(seq)
		data = p.Payload
	}
	in.dnp3Cont, in.s7Frag = st.dnp3Cont, st.s7Frag[side]
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
	sd.lost = in.lost
	if in.lost {
		rest = 0
	}
	sd.commit(data, rest)
	sd.skip = skip
	st.dnp3Cont, st.s7Frag[side] = in.dnp3Cont, in.s7Frag
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

func (in *inspector) request(proto, name string) {
	s := in.svc
	if s.Functions == nil {
		s.Functions = map[string]uint64{}
	}
	s.Functions[Function{proto, name}.String()]++
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
			if k == len(j) || in.declared(j[:k]) > streamBuf {
				return in.oversize(j[:k], len(part)+len(data))
			}
			return k
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
			if len(rest) >= streamBuf || in.declared(rest) > streamBuf {
				return in.oversize(rest, len(rest))
			}
			return len(rest)
		case pduLost:
			return 0
		}
		pos += n
	}
	return 0
}

// oversize: a PDU declaring more than the engine keeps is passed over
// unparsed; a request that large cannot be judged.
func (in *inspector) oversize(b []byte, avail int) int {
	total := in.declared(b)
	if in.side == reqSide {
		in.unparsed(unparsedReason[in.proto], "pdu-larger-than-stream-buffer")
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
		return in.s7PDU(b)
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
		in.request("modbus", modbusName(p))
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

func (in *inspector) dnp3(b []byte) (int, pduStatus) {
	f := &in.dn
	n, err := dnp3.Parse(b, f)
	switch {
	case err == dnp3.ErrShort:
		return 0, pduShort
	case err != dnp3.OK:
		return in.malformed(n, string(err))
	}
	request := f.HasApp && f.App.Function != dnp3.FuncConfirm && !dnp3.IsResponse(f.App.Function)
	if !request && !f.FromMaster() {
		return n, pduOK
	}
	switch {
	case f.LinkOnly:
	case !f.FIR():
		// A later segment of a split request passes with its first.
		if !in.dnp3Cont {
			in.unparsed(unparsedReason[rules.AppDNP3], "segment-without-its-first")
		}
		if f.FIN() {
			in.dnp3Cont = false
		}
	case request:
		in.request("dnp3", nameOr(dnp3.FunctionName(f.App.Function), int(f.App.Function)))
		in.dnp3Cont = !f.FIN()
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
	in.request("enip", nameOr(enip.CommandName(p.Encap.Command), int(p.Encap.Command)))
	if p.Truncated() {
		in.unparsed(unparsedReason[rules.AppENIP], "more-cip-messages-than-recorded")
		return n, pduOK
	}
	for _, m := range p.Messages() {
		// Envelopes are not judged: the requests inside them are.
		if !m.Response && !rules.Envelope(&m) {
			in.request("cip", nameOr(enip.ServiceName(m.Service, m.Class), int(m.Service)))
		}
	}
	return n, pduOK
}

func (in *inspector) s7PDU(b []byte) (int, pduStatus) {
	p := &in.s7
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	var n int
	var err s7.Error
	if in.s7Frag {
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
	if in.s7Frag {
		// The rest of a PDU split over DT TPDUs: judged by its first piece.
		if p.COTP.Type == s7.COTPData && p.COTP.EOT {
			in.s7Frag = false
		}
		return n, pduOK
	}
	switch p.Kind {
	case s7.KindFragment:
		in.s7Frag = true
		if in.side == reqSide {
			in.s7FirstPiece(p.COTP.Data)
		}
	case s7.KindS7Plus:
		if in.side == reqSide {
			in.unparsed(unparsedReason[rules.AppS7], "s7comm-plus")
		}
	case s7.KindS7:
		if in.side == reqSide {
			in.s7Request(p.ROSCTR, p.Function, p.HasFunction, p.UserdataType, p.Group)
		}
	}
	return n, pduOK
}

// s7Request records a job (by function) or a userdata request (by group);
// other message types are not requests.
func (in *inspector) s7Request(rosctr, function uint8, hasFunction bool, udType, group uint8) {
	switch {
	case rosctr == s7.ROSCTRJob && hasFunction:
		in.request("s7", nameOr(s7.FunctionName(function), int(function)))
	case rosctr == s7.ROSCTRUserdata && udType == s7.UserdataRequest:
		in.request("s7-userdata", nameOr(s7.GroupName(group), int(group)))
	}
}

// s7FirstPiece reads a split PDU's request from its first piece, as the
// engine judges it.
func (in *inspector) s7FirstPiece(d []byte) {
	const hdr = s7.HeaderLen
	switch {
	case len(d) > 0 && d[0] == s7.ProtocolS7Plus:
		in.unparsed(unparsedReason[rules.AppS7], "s7comm-plus")
	case len(d) < 2 || d[0] != s7.ProtocolS7:
		in.unparsed(malformedReason[rules.AppS7], string(s7.ErrProtocolID))
	case d[1] == s7.ROSCTRJob && len(d) > hdr:
		in.s7Request(s7.ROSCTRJob, d[hdr], true, 0, 0)
	case d[1] == s7.ROSCTRUserdata && len(d) > hdr+5:
		in.s7Request(s7.ROSCTRUserdata, 0, false, d[hdr+5]>>4, d[hdr+5]&0x0f)
	case d[1] == s7.ROSCTRJob || d[1] == s7.ROSCTRUserdata:
		in.unparsed(unparsedReason[rules.AppS7], "first-piece-too-short")
	}
}

func nameOr(name string, code int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(code)
}
