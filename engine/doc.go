// Package engine is conduit's per-packet pipeline: decode, connection
// table, policy, mode, verdict, and the events that explain each verdict.
//
// One worker serves each NFQUEUE queue and owns the connection-table shard
// of that queue; the kernel balances flows onto queues by a symmetric hash,
// so no two workers share a flow and the packet path takes no global lock.
// The policy is read through an atomic pointer (package modes). Events
// (verdicts, flow ends, evictions, pickups, panics) leave the packet path
// through a bounded channel and are written by one goroutine, so a slow log
// sink never stalls a verdict; what does not fit is counted.
//
// The same Decide path serves the daemon and offline capture replay.
package engine
