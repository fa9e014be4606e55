package conntrack

// Visit calls fn for every flow of every shard, with the shard locked:
// fn may change the flow's exported fields and call the shard's methods
// (Touch, RemoveReason), but must be quick. The lock is released every
// Config.SweepBatch slots, as Sweep does, so the queue reader waits at most
// one batch; events raised by fn are delivered between batches.
func (t *Table) Visit(fn func(s *Shard, f *Flow)) {
	for _, s := range t.shards {
		for start := int32(0); ; start += int32(t.sweepBatch) {
			s.Lock()
			end := min(start+int32(t.sweepBatch), s.arena.used)
			for i := start; i < end; i++ {
				if f := s.arena.at(i); f.ID != 0 {
					fn(s, f)
				}
			}
			s.Unlock()
			if end < start+int32(t.sweepBatch) {
				break
			}
		}
	}
}

// Peek finds the flow of key k in either direction, like Lookup, but
// neither expires it nor makes it the most recently used.
func (s *Shard) Peek(k Key) *Flow {
	ck, _ := canon(k)
	return s.index[ck]
}

// Touch records that f carried packets at now that the shard did not see
// (the kernel forwarded them): its last-seen time moves to now and it
// becomes the most recently used, so that neither its idle timeout nor
// eviction takes a busy flow.
func (s *Shard) Touch(f *Flow, now int64) {
	if now > f.LastSeen {
		f.LastSeen = now
	}
	s.touch(f.slot)
}
