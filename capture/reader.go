package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format is the container format of a capture.
type Format uint8

const (
	FormatUnknown Format = iota
	FormatPcap
	FormatPcapNG
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// Detect tells pcap from pcapng by the first four bytes of a file.
func Detect(b []byte) Format {
	if len(b) < 4 {
		return FormatUnknown
	}
	switch binary.LittleEndian.Uint32(b) {
	case pcapMicroLE, pcapMicroBE, pcapNanoLE, pcapNanoBE:
		return FormatPcap
	case ngSectionHeader:
		return FormatPcapNG
	}
	return FormatUnknown
}

// MaxRecord bounds one record or block. Real frames are at most 256 KiB
// (the largest snaplen tools use); the bound keeps a corrupt length from
// making the reader swallow the rest of the file or a huge allocation.
const MaxRecord = 16 << 20

// readSize is the initial buffer and the usual size of one read.
const readSize = 256 << 10

// Packet is one IP packet of a capture.
type Packet struct {
	Time    int64    // capture timestamp, ns since the Unix epoch
	Data    []byte   // the IP packet; valid until the next call to Next
	Number  int      // 1-based number of its record, as Wireshark numbers frames
	Offset  int64    // byte offset of its record in the file
	CapLen  int      // bytes of the frame in the file
	OrigLen int      // bytes of the frame on the wire
	Link    LinkType // link type of the frame
	// Interface is the name of the interface the frame was captured on
	// (pcapng if_name), "" when the file does not say.
	Interface string
	// Direction is the frame's direction on that interface (pcapng
	// epb_flags): DirUnknown, DirInbound or DirOutbound.
	Direction Direction
}

// Direction is a frame's direction on its capture interface.
type Direction uint8

// Directions of epb_flags (bits 0-1).
const (
	DirUnknown Direction = iota
	DirInbound
	DirOutbound
)

// Stats count the records of a capture read so far.
type Stats struct {
	Records     int // packet records (frames)
	Packets     int // IP packets returned by Next
	NonIP       int // frames carrying no IP (ARP, LLDP, ...), skipped
	Unsupported int // frames of an unsupported link type, skipped
	Truncated   int // IP packets whose frame was cut by the snapshot length
}

// Reader reads one capture. It is not safe for concurrent use.
type Reader struct {
	src    io.Reader
	closer io.Closer
	buf    []byte
	r, w   int   // buf[r:w] is read but not consumed
	off    int64 // file offset of buf[r]
	eof    bool
	ioErr  error
	err    error // sticky: once Next fails it keeps failing the same way

	format Format
	stats  Stats
	frame  []byte // link-layer frame of the last packet Next returned

	// pcap
	be   bool // big-endian headers
	nano bool // nanosecond timestamps
	link LinkType

	// pcapng: interfaces of the current section
	ngBE   bool
	ifaces []ngIface

	// OnNonIP, when set, is told each frame that carries no IP (nonip.go).
	OnNonIP func(NonIP)
	// The interface and pcapng options of the record being delivered, for OnNonIP.
	nonIPIface string
	nonIPOpts  []byte
}

// Open opens a capture file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// NewReader reads the file header from src and returns a Reader
// positioned at the first packet. The error is an *Error.
func NewReader(src io.Reader) (*Reader, error) {
	r := &Reader{src: src, buf: make([]byte, readSize)}
	if !r.fill(4) {
		return nil, r.fail(0, "the file has %d bytes; a capture starts with a 4-byte magic number", r.w-r.r)
	}
	switch Detect(r.buf[r.r:r.w]) {
	case FormatPcap:
		r.format = FormatPcap
		if err := r.pcapHeader(); err != nil {
			return nil, err
		}
	case FormatPcapNG:
		r.format = FormatPcapNG
		// The section header is read as the first block by Next.
	default:
		return nil, &Error{Offset: 0, Err: ErrFormat,
			Msg: fmt.Sprintf("magic number % x is neither pcap nor pcapng", r.buf[r.r:r.r+4])}
	}
	return r, nil
}

// Format is the container format.
func (r *Reader) Format() Format { return r.format }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Frame returns the whole link-layer frame of the packet Next last
// returned, link header included; it is valid until the next call to Next.
func (r *Reader) Frame() []byte { return r.frame }

// Offset is the byte offset of the next unread record.
func (r *Reader) Offset() int64 { return r.off }

// Close closes the file opened by Open; it is a no-op for NewReader.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Next fills p with the next IP packet. It returns io.EOF at the clean end
// of the file and an *Error where the file is truncated or corrupt; every
// later call returns the same error.
func (r *Reader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	var err error
	if r.format == FormatPcap {
		err = r.nextPcap(p)
	} else {
		err = r.nextNG(p)
	}
	if err != nil {
		r.err = err
		return err
	}
	r.stats.Packets++
	if p.CapLen < p.OrigLen {
		r.stats.Truncated++
	}
	return nil
}

// deliver turns the frame of a record into p, or reports that it carries
// no IP packet.
func (r *Reader) deliver(p *Packet, link LinkType, frame []byte, ts int64, origLen int, off int64) bool {
	r.stats.Records++
	if !link.Supported() {
		r.stats.Unsupported++
		return false
	}
	ip, ok := ipOf(link, frame)
	if !ok {
		r.stats.NonIP++
		if r.OnNonIP != nil {
			r.reportNonIP(link, frame, ts, origLen)
		}
		return false
	}
	*p = Packet{Time: ts, Data: ip, Number: r.stats.Records, Offset: off,
		CapLen: len(frame), OrigLen: origLen, Link: link}
	r.frame = frame
	return true
}

// fill makes at least n bytes available in buf[r:w], reading as needed. It
// reports false at end of file or on a read error (kept in ioErr). The
// buffer grows only as data arrives, so a corrupt length in a short file
// costs no large allocation.
func (r *Reader) fill(n int) bool {
	for r.w-r.r < n && !r.eof {
		if len(r.buf)-r.r < n && r.r > 0 {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		if r.w == len(r.buf) {
			nb := make([]byte, min(2*len(r.buf), max(n, readSize)))
			copy(nb, r.buf[:r.w])
			r.buf = nb
		}
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		switch {
		case errors.Is(err, io.EOF):
			r.eof = true
		case err != nil:
			r.eof, r.ioErr = true, err
		case m == 0:
			// A reader that returns 0, nil repeatedly is broken; give up
			// rather than spin.
			r.eof, r.ioErr = true, io.ErrNoProgress
		}
	}
	return r.w-r.r >= n
}

// consume advances past n available bytes.
func (r *Reader) consume(n int) {
	r.r += n
	r.off += int64(n)
}

// atEOF reports a clean end: no byte left and no read error.
func (r *Reader) atEOF() bool {
	return !r.fill(1) && r.w == r.r && r.ioErr == nil
}

// begin starts the next record or block, pcap's or pcapng's: its number
// (the packet it would be) and file offset, once the n bytes of its
// header (what, in the error) are buffered. At the end of the file it
// returns errEOF. The header usually is buffered already: that case is
// small enough to inline into the record loops.
func (r *Reader) begin(n int, what string) (num int, off int64, err error) {
	if r.w-r.r >= n {
		return r.stats.Records + 1, r.off, nil
	}
	return r.beginFill(n, what)
}

// beginFill is begin reading the file for the header.
func (r *Reader) beginFill(n int, what string) (num int, off int64, err error) {
	if r.atEOF() {
		return 0, 0, errEOF
	}
	num, off = r.stats.Records+1, r.off
	if !r.fill(n) {
		return num, off, r.fail(num, "%s needs %d bytes, %d are left", what, n, r.w-r.r)
	}
	return num, off, nil
}

// truncated reports why fill could not deliver: an I/O error or the end of
// the file inside a structure.
func (r *Reader) fail(packet int, format string, a ...any) *Error {
	e := &Error{Offset: r.off, Packet: packet, Msg: fmt.Sprintf(format, a...), Err: ErrTruncated}
	if r.ioErr != nil {
		e.Err = r.ioErr
		e.Msg += ": " + r.ioErr.Error()
	}
	return e
}

func (r *Reader) corrupt(off int64, packet int, format string, a ...any) *Error {
	return &Error{Offset: off, Packet: packet, Msg: fmt.Sprintf(format, a...), Err: ErrCorrupt}
}

func u16(b []byte, be bool) uint16 {
	if be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func u32(b []byte, be bool) uint32 {
	if be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}
