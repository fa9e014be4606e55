package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// KernelQueuePath lists the kernel's NFQUEUE instances of the reading
// process's network namespace.
const KernelQueuePath = "/proc/net/netfilter/nfnetlink_queue"

// KernelQueue is one line of KernelQueuePath: the kernel's side of a
// queue, where packets are lost before conduit ever sees them.
type KernelQueue struct {
	Num        uint16 `json:"num"`
	PeerPortID uint32 `json:"peer_portid"` // the netlink port of the reader
	Waiting    uint64 `json:"queue_total"` // packets queued, waiting for a verdict
	CopyMode   uint8  `json:"copy_mode"`
	CopyRange  uint32 `json:"copy_range"`
	// QueueDropped: packets dropped because the queue was full (with
	// bypass: accepted without a verdict). UserDropped: packets the kernel
	// failed to send to the reader (its socket buffer was full).
	QueueDropped uint64 `json:"queue_dropped"`
	UserDropped  uint64 `json:"user_dropped"`
	IDSequence   uint64 `json:"id_sequence"`
}

// ReadKernelQueues reads KernelQueuePath.
func ReadKernelQueues() ([]KernelQueue, error) {
	f, err := os.Open(KernelQueuePath)
	if err != nil {
		return nil, fmt.Errorf("kernel queue stats: %w", err)
	}
	defer f.Close()
	return ParseKernelQueues(f)
}

// ParseKernelQueues parses lines of nine numeric columns: queue_num,
// peer_portid, queue_total, copy_mode, copy_range, queue_dropped,
// user_dropped, id_sequence and a constant 1.
func ParseKernelQueues(r io.Reader) ([]KernelQueue, error) {
	var out []KernelQueue
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("kernel queue stats line %d: %d columns, want 9", line, len(f))
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("kernel queue stats line %d column %d: %w", line, i+1, err)
			}
			v[i] = n
		}
		if v[0] > 65535 || v[1] > 1<<32-1 || v[3] > 255 || v[4] > 1<<32-1 {
			return nil, fmt.Errorf("kernel queue stats line %d: value out of range", line)
		}
		out = append(out, KernelQueue{Num: uint16(v[0]), PeerPortID: uint32(v[1]), Waiting: v[2],
			CopyMode: uint8(v[3]), CopyRange: uint32(v[4]), QueueDropped: v[5], UserDropped: v[6], IDSequence: v[7]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel queue stats: %w", err)
	}
	return out, nil
}
