package engine

import (
	"encoding/binary"
	"testing"

	"github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
	"github.com/conduit-ot/conduit/proto/modbus/modbustest"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

// FuzzInspect drives one inspected TCP flow per protocol with segments
// the input describes, in either direction, at any sequence number, in
// enforce or monitor mode. Each record is: a control byte (bit 0: server
// to client; bits 1-2: flags FIN, RST; bit 3: monitor), a signed 16-bit
// sequence delta from the direction's next byte, a length, and that many
// payload bytes. It checks that every packet gets a verdict, that the
// stream state stays within its bounds and that every large buffer is
// accounted for.
func FuzzInspect(f *testing.F) {
	rec := func(ctl byte, delta int16, payload []byte) []byte {
		b := []byte{ctl, 0, 0, byte(len(payload))}
		binary.BigEndian.PutUint16(b[1:], uint16(delta))
		return append(b, payload...)
	}
	r1, w1 := modbustest.Request(1, 1, 3, 0, 10), modbustest.Request(2, 1, 6, 1, 1)
	f.Add(byte(0), cat(rec(0, 0, r1), rec(1, 0, mbReadRsp(1, 1, 10)), rec(0, 0, w1)))
	f.Add(byte(0), cat(rec(0, 0, r1[:5]), rec(0, 0, r1[5:]), rec(0, -12, r1), rec(0, 40, r1)))
	f.Add(byte(1), rec(0, 0, dnp3Frame(0xc4, 10, 1, []byte{0xc0, 0x01, 0x3c, 0x02, 0x06})))
	f.Add(byte(3), rec(0, 0, []byte{3, 0, 0, 0x16, 2, 0xf0, 0x80, 0x32, 1, 0, 0, 0, 1, 0, 8, 0, 0, 0xf0, 0, 0, 1, 0, 1, 1, 0xe0}))
	f.Add(byte(2), rec(0, 0, append([]byte{0x65, 0, 4, 0}, make([]byte, 24)...)))
	// recs cuts a client's stream into records of at most 255 bytes.
	recs := func(b []byte) []byte {
		var out []byte
		for len(b) > 0 {
			n := min(len(b), 255)
			out = append(out, rec(0, 0, b[:n])...)
			b = b[n:]
		}
		return out
	}
	// Reassembly: DNP3 fragments over transport segments (whole, refused
	// at FIN, out of sequence), S7 PDUs over COTP DT TPDUs, a PDU beyond
	// the flow's own buffer.
	mixed := dnp3Fragment(0xc4, 10, 1, 5, dnp3Operate(3, 20, analogOut...), 249)
	plain := dnp3Fragment(0xc4, 10, 1, 7, dnp3Operate(4, 20), 249)
	f.Add(byte(1), recs(cat(plain[0], plain[1], mixed[0], mixed[1])))
	f.Add(byte(1), cat(recs(plain[0]), rec(0, 0, mixed[1][:40]), rec(0, 0, plain[1])))
	f.Add(byte(3), recs(cat(cat(s7Pieces(s7ReadVar, 5, 12)...), cat(s7Pieces(s7WriteVar(300), 20, 200)...))))
	f.Add(byte(3), cat(rec(0, 0, s7Pieces(s7Setup(1, 240))[0]), rec(1, 0, s7Pieces(s7Setup(3, 240))[0]),
		recs(cat(s7Pieces(s7WriteVar(300), 20, 200)...))))
	f.Add(byte(2), recs(enipSetAttr(0x0e, 1500)))
	// OPC UA: a channel opened, a read, a write, a chunked message, a
	// chunk larger than the stream buffer; an encrypted channel.
	uaCh := opcuatest.Chan{ID: 9, Token: 14}
	f.Add(byte(4), recs(cat(opcuatest.Hello("opc.tcp://plc:4840"), opcuatest.OpenRequest("None", opcua.ModeNone, 1, 1),
		uaCh.Request(opcua.Read, 2, 2, nil), uaCh.Request(opcua.Write, 3, 3, nil),
		uaCh.Chunk("MSG", 'C', 4, 4, opcuatest.NodeID(nil, 631)), uaCh.Chunk("MSG", 'F', 5, 4, []byte{1, 2}),
		uaCh.Request(opcua.Read, 6, 6, make([]byte, 5000)))))
	f.Add(byte(4), cat(rec(0, 0, opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSignAndEncrypt, 1, 1)[:255]),
		recs(opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSignAndEncrypt, 1, 1)[255:]), rec(0, 0, uaCh.Encrypted('F', 96))))
	// IEC 104: link control, an interrogation and its mirror, a command
	// split over two segments.
	gi, sc := iec104test.Command(0, 0, iec104.C_IC_NA_1, iec104.CauseAct, 1, 0), iec104test.Command(1, 1, iec104.C_SC_NA_1, iec104.CauseAct, 1, 5)
	f.Add(byte(5), cat(rec(0, 0, iec104test.U(iec104.StartDTAct)), rec(1, 0, iec104test.U(iec104.StartDTCon)),
		rec(0, 0, cat(gi, iec104test.S(0))), rec(1, 0, iec104test.Command(0, 1, iec104.C_IC_NA_1, iec104.CauseActCon, 1, 0)),
		rec(0, 0, sc[:7]), rec(0, 0, sc[7:])))
	conds := []struct{ port, cond string }{
		{"502", `    modbus: {preset: read_only, addresses: {read: ["0-99"]}}`},
		{"20000", `    dnp3: {functions: [read, direct_operate], objects: ["60", "12:1"]}`},
		{"44818", "    enip: {commands: [register_session, send_rr_data]}\n    cip: {services: [get_attribute_single]}"},
		{"102", `    s7: {functions: [setup_communication, read_var], userdata_groups: [cpu_functions]}`},
		{"4840", `    opcua: {services: [create_session, read], security_modes: [none, sign]}`},
		{"2404", `    iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1], causes: [act], common_addresses: [1-9]}`},
	}
	f.Fuzz(func(t *testing.T, proto byte, in []byte) {
		c := conds[int(proto)%len(conds)]
		port := uint16(0)
		for _, ch := range c.port {
			port = port*10 + uint16(ch-'0')
		}
		for _, mode := range []string{"enforce", "monitor"} {
			te := newAppEngine(t, mode, "tcp", c.port, c.cond+"\n    on_violation: reset")
			w := te.Worker(0)
			next := [2]uint32{1001, 5001}
			w.Decide(seg(hmi, plc, 40000, port, fSYN, 1000, 0, nil))
			w.Decide(seg(plc, hmi, port, 40000, fSYN|fACK, 5000, 1001, nil))
			for b := in; len(b) >= 4; {
				ctl, delta, n := b[0], int16(binary.BigEndian.Uint16(b[1:3])), int(b[3])
				b = b[4:]
				n = min(n, len(b))
				payload := b[:n]
				b = b[n:]
				side := int(ctl & 1)
				flags := uint8(fACK)
				if ctl&2 != 0 {
					flags |= fFIN
				}
				if ctl&4 != 0 {
					flags = 0x04
				}
				seq := next[side] + uint32(int32(delta))
				var pkt []byte
				if side == 0 {
					pkt = seg(hmi, plc, 40000, port, flags, seq, next[1], payload)
				} else {
					pkt = seg(plc, hmi, port, 40000, flags, seq, next[0], payload)
				}
				v := w.DecideVerdict(pkt)
				if v.Packet != nil && len(v.Packet) != 40 {
					t.Fatalf("replacement of %d bytes", len(v.Packet))
				}
				if v.Accept && delta == 0 {
					next[side] += uint32(n)
				}
				te.verdicts()
			}
			checkLargeBuffers(t, w)
			if c := te.Counters(); c.Panics != 0 {
				t.Fatalf("%d engine panics", c.Panics)
			}
		}
	})
}
