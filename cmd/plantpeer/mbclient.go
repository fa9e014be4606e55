package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// mbClient is a minimal Modbus/TCP client: read holding registers (0x03)
// and write single register (0x06). It exists, instead of the library's
// client, because an HMI or engineering workstation in the plant must be
// able to bind its source address (-src), which the library cannot.
type mbClient struct {
	c       net.Conn
	unit    uint8
	tid     uint16
	timeout time.Duration
	buf     [7 + 253]byte // MBAP header + largest PDU
}

// exceptionError is a Modbus exception response.
type exceptionError struct{ fc, code byte }

func (e exceptionError) Error() string {
	return fmt.Sprintf("modbus exception %d for function %d", e.code, e.fc)
}

func dialModbus(addr string, src netip.Addr, unit uint8, timeout time.Duration) (*mbClient, error) {
	c, err := dialer("tcp", src, timeout).Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &mbClient{c: c, unit: unit, timeout: timeout}, nil
}

func (m *mbClient) Close() error { return m.c.Close() }

// request sends one PDU and returns the response PDU (function code first).
func (m *mbClient) request(pdu []byte) ([]byte, error) {
	m.tid++
	b := m.buf[:7+len(pdu)]
	binary.BigEndian.PutUint16(b[0:], m.tid)
	binary.BigEndian.PutUint16(b[2:], 0) // protocol id: Modbus
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	b[6] = m.unit
	copy(b[7:], pdu)
	fc := pdu[0]
	if err := m.c.SetDeadline(time.Now().Add(m.timeout)); err != nil {
		return nil, err
	}
	if _, err := m.c.Write(b); err != nil {
		return nil, fmt.Errorf("send fc %d: %w", fc, err)
	}
	hdr := m.buf[:7]
	if _, err := io.ReadFull(m.c, hdr); err != nil {
		return nil, fmt.Errorf("fc %d: %w", fc, err)
	}
	tid, proto, n := binary.BigEndian.Uint16(hdr[0:]), binary.BigEndian.Uint16(hdr[2:]), int(binary.BigEndian.Uint16(hdr[4:]))
	if tid != m.tid || proto != 0 || hdr[6] != m.unit || n < 2 || n > 254 {
		return nil, fmt.Errorf("fc %d: bad response header tid=%d proto=%d unit=%d len=%d", fc, tid, proto, hdr[6], n)
	}
	resp := m.buf[7 : 7+n-1]
	if _, err := io.ReadFull(m.c, resp); err != nil {
		return nil, fmt.Errorf("fc %d: %w", fc, err)
	}
	switch {
	case resp[0] == fc|0x80:
		return nil, exceptionError{fc: fc, code: resp[1]}
	case resp[0] != fc:
		return nil, fmt.Errorf("fc %d: response has function %d", fc, resp[0])
	}
	return resp, nil
}

// call sends a request of function fc whose two fields are an address and
// a quantity or value (functions 3 and 6); it returns the request PDU too.
func (m *mbClient) call(fc byte, addr, v uint16) (pdu [5]byte, resp []byte, err error) {
	pdu[0] = fc
	binary.BigEndian.PutUint16(pdu[1:], addr)
	binary.BigEndian.PutUint16(pdu[3:], v)
	resp, err = m.request(pdu[:])
	return pdu, resp, err
}

// readHolding reads qty holding registers from addr.
func (m *mbClient) readHolding(addr, qty uint16) ([]uint16, error) {
	_, resp, err := m.call(0x03, addr, qty)
	if err != nil {
		return nil, err
	}
	if len(resp) < 2 || int(resp[1]) != 2*int(qty) || len(resp) != 2+2*int(qty) {
		return nil, fmt.Errorf("fc 3: want %d registers, response is %d bytes", qty, len(resp))
	}
	out := make([]uint16, qty)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(resp[2+2*i:])
	}
	return out, nil
}

// writeRegister writes one holding register; the PLC echoes the request.
func (m *mbClient) writeRegister(addr, value uint16) error {
	pdu, resp, err := m.call(0x06, addr, value)
	if err != nil {
		return err
	}
	if string(resp) != string(pdu[:]) {
		return fmt.Errorf("fc 6: response % x does not echo request % x", resp, pdu)
	}
	return nil
}
