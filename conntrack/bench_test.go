package conntrack

import (
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time consumed by the calling OS thread. Shared
// build machines are often busy; wall-clock ns/op then includes time spent
// descheduled, CPU ns/op does not.
func threadCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuTimer reports "cpu-ns/op" for the loop between start and stop.
type cpuTimer struct{ t0 int64 }

func startCPU(b *testing.B) cpuTimer {
	runtime.LockOSThread()
	b.ResetTimer()
	return cpuTimer{threadCPU()}
}

func (c cpuTimer) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(threadCPU()-c.t0)/float64(b.N), "cpu-ns/op")
	runtime.UnlockOSThread()
}

// BenchmarkLookupUpdate: the per-packet cost for a tracked flow, including
// the (uncontended) shard lock, over working sets of 100 flows (a typical
// OT cell, cache-resident) and 10k flows (table larger than L2).
func BenchmarkLookupUpdate(b *testing.B) {
	for _, bc := range []struct {
		n   int
		dir Dir
	}{{100, DirOriginal}, {100, DirReply}, {10000, DirOriginal}, {10000, DirReply}} {
		n, dir := bc.n, bc.dir
		b.Run(fmt.Sprintf("flows=%d/%v", n, dir), func(b *testing.B) {
			tab := New(Config{Capacity: 65536, Now: func() int64 { return 0 }})
			s := tab.Shard(0)
			keys := make([]Key, n)
			for i := range keys {
				keys[i] = nthKey(i)
				packet(s, keys[i], syn, 60, 0)
				if dir == DirReply {
					keys[i] = keys[i].Reverse()
				}
			}
			b.ReportAllocs()
			cpu := startCPU(b)
			for i := 0; i < b.N; i++ {
				now := int64(i)
				s.Lock()
				f, d := s.Lookup(keys[i%n], now)
				s.Update(f, d, psh, 100, now)
				s.Unlock()
			}
			cpu.stop(b)
		})
	}
}

// BenchmarkInsertAtCapacity: a new flow in a full table (evict the least
// recently seen, insert, first update), with an event consumer attached.
func BenchmarkInsertAtCapacity(b *testing.B) {
	const capacity = 65536
	tab := New(Config{Capacity: capacity, Now: func() int64 { return 0 }, OnEvent: func(Event) {}})
	s := tab.Shard(0)
	for i := 0; i < capacity; i++ {
		packet(s, nthKey(i), syn, 60, 0)
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		k := nthKey(capacity + i%(1<<23))
		s.Lock()
		f := s.Insert(k, int64(i))
		s.Update(f, DirOriginal, syn, 60, int64(i))
		s.Unlock()
	}
	cpu.stop(b)
}

// BenchmarkMemoryPerEntry fills a 1,000,000-entry table and reports live heap
// per flow (arena Flow + class list link + map slot). Run with -benchtime=1x.
func BenchmarkMemoryPerEntry(b *testing.B) {
	const n = 1_000_000
	var perEntry float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tab := New(Config{Capacity: n, Now: func() int64 { return 0 }})
		s := tab.Shard(0)
		for j := 0; j < n; j++ {
			s.Lock()
			f := s.Insert(nthKey(j), 0)
			s.Update(f, DirOriginal, syn, 60, 0)
			s.Unlock()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tab.Len() != n {
			b.Fatalf("len %d, want %d", tab.Len(), n)
		}
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(tab)
	}
	b.ReportMetric(perEntry, "B/entry")
}
