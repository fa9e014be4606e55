package capture

import "encoding/binary"

// Classic pcap magic numbers as read little-endian from the first 4 bytes.
const (
	pcapMicroLE = 0xa1b2c3d4 // written little-endian, microsecond timestamps
	pcapMicroBE = 0xd4c3b2a1
	pcapNanoLE  = 0xa1b23c4d // nanosecond timestamps
	pcapNanoBE  = 0x4d3cb2a1

	pcapFileHeader   = 24
	pcapRecordHeader = 16
)

func (r *Reader) pcapHeader() error {
	if !r.fill(pcapFileHeader) {
		return r.fail(0, "the pcap file header needs %d bytes, %d are left", pcapFileHeader, r.w-r.r)
	}
	h := r.buf[r.r : r.r+pcapFileHeader]
	switch binary.LittleEndian.Uint32(h) {
	case pcapMicroBE:
		r.be = true
	case pcapNanoLE:
		r.nano = true
	case pcapNanoBE:
		r.be, r.nano = true, true
	}
	if major := u16(h[4:], r.be); major != 2 {
		return r.corrupt(4, 0, "pcap version %d.%d (only 2.x exists)", major, u16(h[6:], r.be))
	}
	// The upper bits of the link type field carry FCS information.
	r.link = LinkType(u32(h[20:], r.be) & 0x0fffffff)
	if !r.link.Supported() {
		return r.corrupt(20, 0, "link type %d is not supported (Ethernet, Linux cooked v1/v2, raw IP and null/loopback are)", r.link)
	}
	r.consume(pcapFileHeader)
	return nil
}

func (r *Reader) nextPcap(p *Packet) error {
	for {
		num, off, err := r.begin(pcapRecordHeader, "the record header")
		if err != nil {
			return err
		}
		h := r.buf[r.r : r.r+pcapRecordHeader]
		sec, frac := int64(u32(h, r.be)), int64(u32(h[4:], r.be))
		incl, orig := u32(h[8:], r.be), u32(h[12:], r.be)
		if incl > MaxRecord {
			return r.corrupt(off, num, "the record claims %d captured bytes (at most %d are plausible)", incl, MaxRecord)
		}
		if !r.fill(pcapRecordHeader + int(incl)) {
			return r.fail(num, "the record needs %d bytes, %d are left", pcapRecordHeader+int(incl), r.w-r.r)
		}
		ts := sec * 1e9
		if r.nano {
			ts += frac
		} else {
			ts += frac * 1e3
		}
		frame := r.buf[r.r+pcapRecordHeader : r.r+pcapRecordHeader+int(incl)]
		r.consume(pcapRecordHeader + int(incl))
		if r.deliver(p, r.link, frame, ts, int(orig), off) {
			return nil
		}
	}
}
