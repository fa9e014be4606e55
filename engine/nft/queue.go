package nft

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// Flags shared by the native expression and the xtables target.
const (
	flagBypass = 0x01 // NFT_QUEUE_FLAG_BYPASS == NFQ_FLAG_BYPASS
)

func nativeQueue(cfg Config) expr.Any {
	q := &expr.Queue{Num: cfg.QueueNum, Total: cfg.QueueCount}
	if cfg.Bypass {
		q.Flag |= expr.QueueFlagBypass
	}
	return q
}

// compatQueue is the xtables NFQUEUE target, revision 3:
// struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total; __u16 flags; },
// host byte order, padded to XT_ALIGN (8 bytes). With queues_total > 1 the
// target balances by a hash over the address pair that is symmetric, so both
// directions of a flow reach the same queue.
func compatQueue(cfg Config) expr.Any {
	info := make(xt.Unknown, 8)
	binary.NativeEndian.PutUint16(info[0:], cfg.QueueNum)
	binary.NativeEndian.PutUint16(info[2:], cfg.QueueCount)
	var flags uint16
	if cfg.Bypass {
		flags |= flagBypass
	}
	binary.NativeEndian.PutUint16(info[4:], flags)
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}
