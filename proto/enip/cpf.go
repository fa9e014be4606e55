package enip

import "github.com/conduit-ot/conduit/proto/internal/pdu"

// Common packet format item types.
const (
	ItemNullAddr        uint16 = 0x0000
	ItemListIdentity    uint16 = 0x000c
	ItemConnectedAddr   uint16 = 0x00a1
	ItemConnectedData   uint16 = 0x00b1
	ItemUnconnectedData uint16 = 0x00b2
	ItemListServices    uint16 = 0x0100
	ItemSockaddrOT      uint16 = 0x8000
	ItemSockaddrTO      uint16 = 0x8001
	ItemSequencedAddr   uint16 = 0x8002
)

// parseCPF decodes the SendRRData/SendUnitData data: interface handle,
// timeout, then the item list. Items other than the address and data items
// (socket address info, vendor items) are skipped: a target does not
// execute them.
func (p *PDU) parseCPF(b []byte) pdu.Error {
	c := &p.CPF
	if len(b) < 8 {
		return ErrCPFTruncated
	}
	c.Present = true
	c.Interface = le32(b)
	c.Timeout = le16(b[4:])
	c.Items = le16(b[6:])
	var haveAddr bool
	off := 8
	for i := 0; i < int(c.Items); i++ {
		if len(b)-off < 4 {
			return ErrCPFTruncated
		}
		typ, size := le16(b[off:]), int(le16(b[off+2:]))
		off += 4
		if len(b)-off < size {
			return ErrCPFTruncated
		}
		item := b[off : off+size : off+size]
		off += size
		switch typ {
		case ItemNullAddr, ItemConnectedAddr, ItemSequencedAddr:
			if haveAddr {
				return ErrCPFDuplicate
			}
			haveAddr = true
			c.AddrType = typ
			switch {
			case typ == ItemNullAddr && size == 0:
			case typ == ItemConnectedAddr && size == 4:
				c.ConnID = le32(item)
			case typ == ItemSequencedAddr && size == 8:
				c.ConnID = le32(item)
				c.AddrSeq = le32(item[4:])
			default:
				return ErrCPFItemLength
			}
		case ItemUnconnectedData, ItemConnectedData:
			if c.DataType != 0 {
				return ErrCPFDuplicate
			}
			c.DataType = typ
			if typ == ItemConnectedData {
				if size < 2 {
					return ErrCPFItemLength
				}
				c.SeqCount = le16(item)
				item = item[2:]
			}
			c.CIP = item
		}
	}
	if off != len(b) {
		return ErrCPFTrailing
	}
	if c.DataType == 0 {
		return ErrCPFNoData
	}
	if len(c.CIP) == 0 {
		// An empty data item is how some stacks keep a connection alive;
		// there is no message to act on.
		return pdu.OK
	}
	return p.parseCIP(c.CIP, 0)
}
