package inspect

import "testing"

// TestLocate places segments against a direction that passed "abcdef"
// from sequence number 100 and saw the peer acknowledge up to 102.
func TestLocate(t *testing.T) {
	for _, tt := range []struct {
		name, data, rest string
		seq              uint32
		kind             segKind
	}{
		{"in order", "gh", "gh", 106, segNew},
		{"beyond next", "ij", "", 108, segGap},
		{"old, matching", "cd", "", 102, segOld},
		{"old then new", "efgh", "gh", 104, segNew},
		{"old, altered", "xe", "", 103, segMismatch},
		{"acknowledged part not checked", "XYcdefg", "g", 100, segNew},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s streamDir
			s.sync(100)
			s.commit(s.buf[:], []byte("abcdef"), 0)
			s.ack(102)
			kind, rest := s.locate(s.buf[:], tt.seq, []byte(tt.data))
			if kind != tt.kind || string(rest) != tt.rest {
				t.Errorf("locate(%d, %q) = %d %q, want %d %q", tt.seq, tt.data, kind, rest, tt.kind, tt.rest)
			}
		})
	}
}

// TestCommitKeepsLatest: the kept bytes are the latest, the unfinished
// PDU their suffix.
func TestCommitKeepsLatest(t *testing.T) {
	var s streamDir
	s.sync(0)
	store := make([]byte, 8)
	s.commit(store, []byte("abcdef"), 0)
	s.commit(store, []byte("ghij"), 3)
	if got := string(store[:s.n]); got != "cdefghij" || s.next != 10 {
		t.Errorf("kept %q next %d", got, s.next)
	}
	if u := s.unfinished(store); string(u) != "hij" {
		t.Errorf("unfinished %q", u)
	}
	s.commit(store, []byte("0123456789"), 2)
	if got := store[:s.n]; string(got) != "23456789" || string(s.unfinished(store)) != "89" {
		t.Errorf("kept %q unfinished %q", got, s.unfinished(store))
	}
}

// TestPoolLargeBuffers: at most maxLarge are lent; a freed slot's are
// taken back when the pool runs out; a slot comes back to the flow that
// holds it and is fresh for another.
func TestPoolLargeBuffers(t *testing.T) {
	p := pool{maxLarge: 2}
	i, st := p.stream(-1, 1, 1)
	j, _ := p.stream(-1, 2, 1)
	if i == j || st == nil {
		t.Fatalf("slots %d %d", i, j)
	}
	if k, again := p.stream(i, 1, 1); k != i || again != st {
		t.Errorf("the flow's own slot not returned: %d", k)
	}
	st.asm[0].Buf, st.dir[1].large = p.borrow(), p.borrow()
	if r := p.borrow(); r != 0 {
		t.Fatalf("a third large buffer lent: %d", r)
	}
	p.put(i)
	if r := p.borrow(); r == 0 {
		t.Fatal("the freed slot's large buffers were not taken back")
	}
	if k, other := p.stream(i, 3, 1); k != i || other.owner != 3 || other.asm[0].Buf != 0 || other.dir[1].large != 0 {
		t.Errorf("slot %d not fresh for another flow: %+v", k, other.asm[0])
	}
}
