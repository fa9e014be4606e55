package conntrack

// arena hands out Flow structs from chunks that are allocated once and
// recycled through a free list, so a shard at steady state (full, evicting)
// allocates no Flows. Chunks are never moved, so *Flow stays valid for as
// long as the slot is in use. Chunks are allocated on demand so that a large
// configured capacity costs memory only once it is used.
type arena struct {
	chunks [][]Flow
	chunk  int32   // flows per chunk
	limit  int32   // total slots (the shard's capacity)
	used   int32   // slots handed out at least once: [0, used) may be live
	free   []int32 // released slots, reused LIFO
}

const maxChunk = 1024

func newArena(capacity int) arena {
	c := min(capacity, maxChunk)
	return arena{chunk: int32(c), limit: int32(capacity), free: make([]int32, 0, c)}
}

func (a *arena) at(i int32) *Flow { return &a.chunks[i/a.chunk][i%a.chunk] }

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
		if int(i/a.chunk) == len(a.chunks) {
			a.chunks = append(a.chunks, make([]Flow, min(a.chunk, a.limit-i)))
		}
	}
	f := a.at(i)
	f.slot = i
	return f
}

// put zeroes f (ID 0 marks the slot free for scans) and recycles its slot.
func (a *arena) put(f *Flow) {
	i := f.slot
	*f = Flow{}
	a.free = append(a.free, i)
}
