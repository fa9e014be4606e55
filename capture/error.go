package capture

import (
	"errors"
	"fmt"
)

// Sentinel causes carried by *Error.
var (
	// ErrTruncated: the file ends inside a header or a record.
	ErrTruncated = errors.New("capture truncated")
	// ErrCorrupt: a header or record is impossible (bad magic, bad length).
	ErrCorrupt = errors.New("capture corrupt")
	// ErrFormat: the file is neither pcap nor pcapng.
	ErrFormat = errors.New("not a pcap or pcapng file")
)

// Error says where reading a capture stopped. Every packet before Offset
// was returned by Next.
type Error struct {
	Offset int64  // byte offset of the header or record that could not be read
	Packet int    // 1-based number of the packet record being read; 0: in the file header
	Msg    string // what was wrong
	Err    error  // ErrTruncated, ErrCorrupt, ErrFormat, or an I/O error
}

func (e *Error) Error() string {
	what := "capture corrupt"
	switch {
	case errors.Is(e.Err, ErrTruncated):
		what = "capture truncated"
	case errors.Is(e.Err, ErrFormat):
		what = "not a capture"
	case !errors.Is(e.Err, ErrCorrupt):
		what = "capture unreadable"
	}
	where := "in the file header"
	if e.Packet > 0 {
		where = fmt.Sprintf("in packet %d", e.Packet)
	}
	if e.Msg == "" {
		return fmt.Sprintf("%s at byte %d, %s: %v", what, e.Offset, where, e.Err)
	}
	return fmt.Sprintf("%s at byte %d, %s: %s", what, e.Offset, where, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }
