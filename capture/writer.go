package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Writer writes a classic pcap file with nanosecond timestamps. It is what
// the project's tools use to generate captures; it buffers, so call Flush.
type Writer struct {
	w    *bufio.Writer
	link LinkType
	hdr  [pcapRecordHeader]byte
}

// NewWriter writes the file header for frames of link type link.
func NewWriter(w io.Writer, link LinkType) (*Writer, error) {
	pw := &Writer{w: bufio.NewWriterSize(w, 1<<20), link: link}
	var h [pcapFileHeader]byte
	binary.LittleEndian.PutUint32(h[0:], pcapNanoLE)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 262144) // snaplen
	binary.LittleEndian.PutUint32(h[20:], uint32(link))
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return pw, nil
}

// WriteFrame appends one frame captured at ts (Unix ns), whole (the
// captured length is the length on the wire).
func (pw *Writer) WriteFrame(ts int64, frame []byte) error {
	h := pw.hdr[:]
	binary.LittleEndian.PutUint32(h[0:], uint32(ts/1e9))
	binary.LittleEndian.PutUint32(h[4:], uint32(ts%1e9))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
	if _, err := pw.w.Write(h); err != nil {
		return fmt.Errorf("write pcap record: %w", err)
	}
	if _, err := pw.w.Write(frame); err != nil {
		return fmt.Errorf("write pcap record: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (pw *Writer) Flush() error {
	if err := pw.w.Flush(); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}
