package enip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Builders that assemble PDUs from their fields, so test cases say what
// they mean instead of carrying opaque hex.

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

const (
	testSession = 0x11223344
	testContext = 0x0102030405060708
)

// encap builds an encapsulation PDU whose length field is len(data).
func encap(cmd uint16, data []byte) []byte {
	return encapLen(cmd, len(data), data)
}

func encapLen(cmd uint16, length int, data []byte) []byte {
	return cat(u16(cmd), u16(uint16(length)), u32(testSession), u32(0),
		binary.LittleEndian.AppendUint64(nil, testContext), u32(0), data)
}

// cpf builds SendRRData/SendUnitData data: interface 0, timeout 10, items.
func cpf(items ...[]byte) []byte {
	return cat(u32(0), u16(10), u16(uint16(len(items))), cat(items...))
}

func item(typ uint16, data []byte) []byte { return cat(u16(typ), u16(uint16(len(data))), data) }

var (
	nullAddr = item(ItemNullAddr, nil)
	connAddr = item(ItemConnectedAddr, u32(0xff954022))
)

func unconnected(cip []byte) []byte { return item(ItemUnconnectedData, cip) }
func connected(seq uint16, cip []byte) []byte {
	return item(ItemConnectedData, cat(u16(seq), cip))
}

// rr wraps a CIP message in a SendRRData PDU.
func rr(cip []byte) []byte { return encap(CmdSendRRData, cpf(nullAddr, unconnected(cip))) }

// req builds a CIP request; path must have an even length.
func req(svc uint8, path, data []byte) []byte {
	if len(path)%2 != 0 {
		panic("odd path")
	}
	return cat([]byte{svc, byte(len(path) / 2)}, path, data)
}

// resp builds a CIP response with additional status words.
func resp(svc, status uint8, ext []uint16, data []byte) []byte {
	out := []byte{svc | 0x80, 0, status, byte(len(ext))}
	for _, e := range ext {
		out = append(out, u16(e)...)
	}
	return cat(out, data)
}

// Padded EPATH segments.
func cls(v uint8) []byte        { return []byte{0x20, v} }
func inst(v uint8) []byte       { return []byte{0x24, v} }
func attr(v uint8) []byte       { return []byte{0x30, v} }
func cls16(v uint16) []byte     { return cat([]byte{0x21, 0}, u16(v)) }
func inst32(v uint32) []byte    { return cat([]byte{0x26, 0}, u32(v)) }
func attr16(v uint16) []byte    { return cat([]byte{0x31, 0}, u16(v)) }
func member(v uint8) []byte     { return []byte{0x28, v} }
func port(p, addr uint8) []byte { return []byte{p, addr} }
func sym(name string) []byte {
	out := cat([]byte{0x91, byte(len(name))}, []byte(name))
	if len(name)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

var mrPath = cat(cls(2), inst(1)) // Message Router instance 1

// msp builds Multiple Service Packet data: count, offsets, messages.
func msp(msgs ...[]byte) []byte {
	off := 2 + 2*len(msgs)
	var table, body []byte
	for _, m := range msgs {
		table = append(table, u16(uint16(off))...)
		body = append(body, m...)
		off += len(m)
	}
	return cat(u16(uint16(len(msgs))), table, body)
}

// ucs builds Unconnected Send data around msg with a route path.
func ucs(msg, route []byte) []byte {
	out := cat([]byte{0x0a, 0xf0}, u16(uint16(len(msg))), msg)
	if len(msg)%2 == 1 {
		out = append(out, 0)
	}
	return cat(out, []byte{byte(len(route) / 2), 0}, route)
}

var cmPath = cat(cls(6), inst(1)) // Connection Manager instance 1

// msgString renders a Msg compactly for comparisons: depth as leading
// '>', then "svc c=class i=instance a=attribute t=tag" for requests, with
// '@' for a routed path and '+' for more than one class, or
// "r svc s=status x=extstatus" for responses.
func msgString(m Msg) string {
	var b strings.Builder
	b.WriteString(strings.Repeat(">", int(m.Depth)))
	if m.Response {
		fmt.Fprintf(&b, "r%02x s=%02x", m.Service, m.Status)
		if m.ExtStatus != 0 {
			fmt.Fprintf(&b, " x=%04x", m.ExtStatus)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%02x", m.Service)
	if m.Flags&(HasClass|HasSymbol) != 0 {
		fmt.Fprintf(&b, " c=%x", m.Class)
	}
	if m.Flags&HasInstance != 0 {
		fmt.Fprintf(&b, " i=%x", m.Instance)
	}
	if m.Flags&HasAttribute != 0 {
		fmt.Fprintf(&b, " a=%x", m.Attribute)
	}
	if m.Flags&HasSymbol != 0 {
		fmt.Fprintf(&b, " t=%s", m.Symbol)
	}
	if m.Flags&Routed != 0 {
		b.WriteString(" @")
	}
	if m.Flags&MultiClass != 0 {
		b.WriteString(" +")
	}
	return b.String()
}

func msgStrings(p *PDU) []string {
	var out []string
	for _, m := range p.Messages() {
		out = append(out, msgString(m))
	}
	return out
}
