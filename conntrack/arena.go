package conntrack

// arena hands out Flow structs from chunks that are allocated once and
// recycled through a free list, so a shard at steady state (full, evicting)
// allocates no Flows. Chunks are never moved, so *Flow stays valid for as
// long as the slot is in use. Chunks are allocated on demand so that a large
// configured capacity costs memory only once it is used.
//
// Beside the Flows the arena keeps the links of the shard's class lists
// (lru.go) in one slice of their own: the class sentinels first, then slot
// i's link at i+NumClasses. List operations touch 12-byte links instead of
// neighbouring Flows, address them with one bounds check and no branch,
// and a copy of a Flow carries no list state. The slice grows with used,
// so it too costs memory only once used.
type arena struct {
	chunks [][]Flow
	links  []link
	limit  int32   // total slots (the shard's capacity)
	used   int32   // slots handed out at least once: [0, used) may be live
	free   []int32 // released slots, reused LIFO
}

// Slot i lives at chunks[i>>chunkShift][i&chunkMask]: a shift and a mask
// on the packet path, not a division. The last chunk is cut to the
// capacity, so a small table is one small chunk.
const (
	chunkShift = 10
	maxChunk   = 1 << chunkShift
	chunkMask  = maxChunk - 1
)

func newArena(capacity int) arena {
	a := arena{limit: int32(capacity), free: make([]int32, 0, min(capacity, maxChunk))}
	a.links = make([]link, NumClasses, NumClasses+min(capacity, maxChunk))
	return a
}

func (a *arena) at(i int32) *Flow { return &a.chunks[i>>chunkShift][i&chunkMask] }

// get returns a zeroed Flow. The caller guarantees fewer than limit slots
// are in use.
func (a *arena) get() *Flow {
	var i int32
	if n := len(a.free); n > 0 {
		i = a.free[n-1]
		a.free = a.free[:n-1]
	} else {
		i = a.used
		a.used++
		if int(i>>chunkShift) == len(a.chunks) {
			a.chunks = append(a.chunks, make([]Flow, min(maxChunk, a.limit-i)))
		}
		if len(a.links) == cap(a.links) { // double, up to the capacity
			l := make([]link, len(a.links), min(2*cap(a.links), int(a.limit)+NumClasses))
			copy(l, a.links)
			a.links = l
		}
		a.links = a.links[:len(a.links)+1]
	}
	f := a.at(i)
	f.slot = i
	return f
}

// put zeroes f (ID 0 marks the slot free for scans) and recycles its slot.
// The caller has unlinked it.
func (a *arena) put(f *Flow) {
	i := f.slot
	*f = Flow{}
	a.free = append(a.free, i)
}
