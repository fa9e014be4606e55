// Package inspect is conduit's stream follower: it follows each direction
// of an inspected flow's TCP stream in order through a small per-flow
// buffer (stream.go, slot.go), walks the PDUs of each packet's payload
// and hands every one to its protocol's inspector (proto.Inspector; the
// follower is the proto.Judge it reports to, judge.go), gathers PDUs
// spread over segments or transport pieces (asm.go), drives TCP and UDP
// flows (tcp.go) and turns what it found into the packet's fate (Result):
// refused or not, whether a verdict line is due, and for on_violation
// reset the replacement packet (reset.go).
//
// It names no protocol (they come through proto's table) and knows
// nothing of the engine beyond what Inspect is given: the engine keeps
// the flow table, the counters and the log, and learns of each judged
// request through an Observer.
package inspect
