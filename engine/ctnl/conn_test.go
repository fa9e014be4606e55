package ctnl

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread in a fresh network namespace, whose
// conntrack table holds only the entries that the conntrack commands
// insert make, with a Conn open there; commands fn starts run there too.
func inNetns(t testing.TB, insert [][]string, fn func(c *Conn)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("conntrack"); err != nil {
		t.Skip("needs the conntrack tool")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		for _, args := range insert {
			if out, err := exec.Command("conntrack", args...).CombinedOutput(); err != nil {
				t.Errorf("conntrack %v: %v %s", args, err, out)
				return
			}
		}
		c, err := Open()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		fn(c)
	}()
	<-done
}

// TestConnKernel: against the real kernel, SetMark changes only the
// masked bits, DumpMarked finds exactly the marked entries, by either
// direction's tuple, and Delete removes an entry.
func TestConnKernel(t *testing.T) {
	inNetns(t, [][]string{
		{"-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.2", "--sport", "1000", "--dport", "2000", "-t", "100", "-u", "SEEN_REPLY", "-m", "5"},
		{"-I", "-p", "tcp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "3000", "--dport", "502", "-t", "100", "--state", "ESTABLISHED"},
	}, func(c *Conn) {
		const bit = 0x4000_0000
		udp := Tuple{Proto: 17, Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.2.0.2"), SrcPort: 1000, DstPort: 2000}
		// The TCP entry is named by its reply direction.
		tcp := Tuple{Proto: 6, Src: netip.MustParseAddr("fd00::2"), Dst: netip.MustParseAddr("fd00::1"), SrcPort: 502, DstPort: 3000}
		for _, tu := range []Tuple{udp, tcp} {
			if err := c.SetMark(tu, bit, bit); err != nil {
				t.Errorf("SetMark %v: %v", tu, err)
			}
		}
		if e, err := c.Get(udp); err != nil || e.Mark != bit|5 {
			t.Errorf("Get udp = mark %#x, %v; want %#x (the other bits kept)", e.Mark, err, bit|5)
		}
		got, err := c.DumpMarked(bit)
		if err != nil || len(got) != 2 {
			t.Errorf("DumpMarked = %d entries, %v; want 2", len(got), err)
		}
		if err := c.SetMark(udp, 0, bit); err != nil {
			t.Error(err)
		}
		if e, _ := c.Get(udp); e.Mark != 5 {
			t.Errorf("after clearing: mark %#x, want 5", e.Mark)
		}
		got, _ = c.DumpMarked(bit)
		if len(got) != 1 || got[0].Src != netip.MustParseAddr("fd00::1") || got[0].DstPort != 502 {
			t.Errorf("DumpMarked after clearing = %+v, want only the TCP entry in its original direction", got)
		}
		if err := c.Delete(tcp); err != nil {
			t.Error(err)
		}
		if _, err := c.Get(tcp); !errors.Is(err, ErrNoEntry) {
			t.Errorf("Get after Delete = %v, want ErrNoEntry", err)
		}
		if err := c.SetMark(tcp, bit, bit); !errors.Is(err, ErrNoEntry) {
			t.Errorf("SetMark of a gone entry = %v, want ErrNoEntry", err)
		}
	})
}

// TestSetMarkNoAllocs: marking is on the packet path (once per flow).
func TestSetMarkNoAllocs(t *testing.T) {
	inNetns(t, nil, func(c *Conn) {
		tu := Tuple{Proto: 17, Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.2.0.2"), SrcPort: 1, DstPort: 2}
		if a := testing.AllocsPerRun(100, func() { _ = c.SetMark(tu, 1, 1) }); a != 0 {
			t.Errorf("SetMark allocates %.1f times", a)
		}
	})
}

// BenchmarkSetMark: the cost of handing one flow to the fast path through
// ctnetlink (a request and its acknowledgement), against the real kernel.
func BenchmarkSetMark(b *testing.B) {
	inNetns(b, [][]string{
		{"-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.2", "--sport", "1", "--dport", "2", "-t", "100", "-u", "SEEN_REPLY"},
	}, func(c *Conn) {
		tu := Tuple{Proto: 17, Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.2.0.2"), SrcPort: 1, DstPort: 2}
		b.ReportAllocs()
		for b.Loop() {
			if err := c.SetMark(tu, 0x4000_0000, 0x4000_0000); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
