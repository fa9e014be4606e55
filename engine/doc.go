// Package engine is conduit's per-packet pipeline: decode, connection
// table, policy, mode, verdict, and the events that explain each verdict.
//
// One worker serves each NFQUEUE queue and owns the connection-table shard
// of that queue; the kernel balances flows onto queues by a symmetric hash,
// so no two workers share a flow and the packet path takes no global lock.
// The policy is read through an atomic pointer (package inforce). Events
// (verdicts, flow ends, evictions, pickups, panics) leave the packet path
// through a bounded channel and are written by one goroutine, so a slow log
// sink never stalls a verdict; what does not fit is counted.
//
// A flow whose rule has an industrial-protocol condition is inspected
// (inspect.go) by the worker's stream follower, package engine/inspect:
// each direction of its TCP stream is followed in order through a small
// per-flow buffer, every request PDU is framed and judged by the
// protocol's inspector (proto.Inspector, through proto's table), and what
// cannot be judged (a gap, an altered retransmission, a PDU that does not
// parse) is decided by the rule's on_unparsed. A refused request drops its
// segment, or with on_violation reset turns it and the peer's next packet
// into a FIN and a RST, which DecideVerdict returns as a replacement
// packet. The engine keeps the counters, the coverage and the lines.
//
// The same Decide path serves the daemon and offline capture replay.
package engine
