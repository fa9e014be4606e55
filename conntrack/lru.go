package conntrack

// A shard orders its flows in one least-recently-seen list per Class, so
// that eviction finds the oldest flow of the lowest class in O(1). The lists
// are intrusive, circular and doubly linked over indices into the arena's
// links: no allocation per flow or per move. Index c (< NumClasses) is the
// sentinel of class c's list, whose next is the least recently seen flow of
// the class and prev the most recently seen; slot i's link is at
// i+NumClasses.

// link is a slot's place in its class list.
type link struct {
	prev, next int32
	class      Class // the list the slot is in
}

func linkOf(slot int32) int32 { return slot + int32(NumClasses) }

func (s *Shard) initLists() {
	for c := range NumClasses {
		s.arena.links[c] = link{prev: int32(c), next: int32(c), class: Class(c)}
	}
}

// pushBack appends link li to class c's list as its most recently seen.
func (s *Shard) pushBack(li int32, c Class) {
	ls := s.arena.links
	h := &ls[c]
	l := &ls[li]
	l.prev, l.next, l.class = h.prev, int32(c), c
	ls[h.prev].next = li
	h.prev = li
	s.lens[c]++
}

// unlink takes link li out of its list.
func (s *Shard) unlink(li int32) {
	ls := s.arena.links
	l := &ls[li]
	ls[l.prev].next = l.next
	ls[l.next].prev = l.prev
	s.lens[l.class]--
}

// touch makes slot i the most recently seen flow of its class. A flow that
// already is (one busy session) costs one compare.
func (s *Shard) touch(i int32) {
	li := linkOf(i)
	c := s.arena.links[li].class
	if s.arena.links[c].prev == li {
		return
	}
	s.unlink(li)
	s.pushBack(li, c)
}

// reclass moves f to the list of its current class, as its most recently
// seen flow, if it is not there already.
func (s *Shard) reclass(f *Flow) {
	li := linkOf(f.slot)
	if c := f.Class(); c != s.arena.links[li].class {
		s.unlink(li)
		s.pushBack(li, c)
	}
}

// oldest is the least recently seen flow of class c, or nil.
func (s *Shard) oldest(c Class) *Flow {
	if li := s.arena.links[c].next; li >= int32(NumClasses) {
		return s.arena.at(li - int32(NumClasses))
	}
	return nil
}

// classOf is the list f is in (its class when it was last classified).
func (s *Shard) classOf(f *Flow) Class { return s.arena.links[linkOf(f.slot)].class }
