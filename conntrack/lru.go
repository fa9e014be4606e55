package conntrack

// A shard orders its flows in one least-recently-seen list per Class, so
// that eviction finds the oldest flow of the lowest class in O(1). The lists
// are intrusive, circular and doubly linked over arena slot indices: no
// allocation per flow or per move. The list of class c has a sentinel in
// the shard, addressed by the negative index ^c; its next is the least
// recently seen flow of the class and its prev the most recently seen.

// link is a slot's place in its class list.
type link struct {
	prev, next int32
	class      Class // the list the slot is in
}

func sentinel(c Class) int32 { return ^int32(c) }

func (s *Shard) initLists() {
	for c := range s.heads {
		s.heads[c] = link{prev: sentinel(Class(c)), next: sentinel(Class(c)), class: Class(c)}
	}
}

// node resolves a list index: a slot's link or a class sentinel.
func (s *Shard) node(i int32) *link {
	if i < 0 {
		return &s.heads[^i]
	}
	return s.arena.link(i)
}

// pushBack appends slot i (link l) to class c's list as its most recently
// seen flow.
func (s *Shard) pushBack(i int32, l *link, c Class) {
	h := &s.heads[c]
	l.prev, l.next, l.class = h.prev, sentinel(c), c
	s.node(h.prev).next = i
	h.prev = i
	s.lens[c]++
}

// unlink takes link l out of its list.
func (s *Shard) unlink(l *link) {
	s.node(l.prev).next = l.next
	s.node(l.next).prev = l.prev
	s.lens[l.class]--
}

// touch makes slot i the most recently seen flow of its class. A flow that
// already is (one busy session) costs one compare.
func (s *Shard) touch(i int32) {
	l := s.arena.link(i)
	if s.heads[l.class].prev == i {
		return
	}
	s.unlink(l)
	s.pushBack(i, l, l.class)
}

// reclass moves f to the list of its current class, as its most recently
// seen flow, if it is not there already.
func (s *Shard) reclass(f *Flow) {
	l := s.arena.link(f.slot)
	if c := f.Class(); c != l.class {
		s.unlink(l)
		s.pushBack(f.slot, l, c)
	}
}

// oldest is the least recently seen flow of class c, or nil.
func (s *Shard) oldest(c Class) *Flow {
	if i := s.heads[c].next; i >= 0 {
		return s.arena.at(i)
	}
	return nil
}

// classOf is the list f is in (its class when it was last classified).
func (s *Shard) classOf(f *Flow) Class { return s.arena.link(f.slot).class }
