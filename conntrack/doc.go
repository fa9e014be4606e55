// Package conntrack is conduit's fixed-capacity connection table.
//
// The table is split into shards, one per NFQUEUE reader. The kernel balances
// flows onto queues with a symmetric hash, so a shard sees both directions of
// its flows and its reader is the only goroutine on its packet path. Each shard
// still has a mutex so that the background sweeper, Snapshot and Stats can read
// it; on the packet path that mutex is uncontended.
//
// Packet-path usage (one goroutine per shard):
//
//	s := t.Shard(queue)
//	s.Lock()
//	f, dir := s.Lookup(key, now)
//	if f == nil {
//		f, dir = s.Insert(key, now), conntrack.DirOriginal
//	}
//	s.Update(f, dir, tcpFlags, len(pkt), now)
//	... decide, using and filling f's decision cache ...
//	s.Reclassify(f) // after setting f.Allowed
//	s.Unlock() // delivers flow_end/eviction events, after the lock is released
//
// A *Flow is only valid while its shard is locked: once the lock is released
// the sweeper may expire it and its storage is reused for another flow.
//
// Each shard keeps a map of canonical key → arena slot, an arena of Flow
// structs that are recycled on eviction and expiry instead of being
// allocated per flow, and one least-recently-seen list per eviction Class
// (class.go, lru.go). A full shard ends an expired flow if the oldest of a
// class has timed out, and otherwise evicts the least recently seen flow of
// the lowest class present, like the kernel's early_drop: denied flows,
// then half-open handshakes, closing flows, unanswered UDP/ICMP/other, and
// only then an established allowed one. Every step is O(1) and allocates
// nothing. The engine calls Reclassify after caching a decision in a flow
// (Allowed); Update moves a flow whose state changes its class.
package conntrack
