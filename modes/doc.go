// Package modes holds what the three modes mean for a verdict and how a new
// policy (and with it a new mode) replaces the running one.
//
// The running policy is an immutable *rules.Policy behind an atomic pointer,
// stamped with a generation. Queue readers load it once per packet; a reload
// parses, validates and compiles the new file off the packet path and swaps
// the pointer, so the packet path never waits for a reload and never sees a
// half-built policy. Flows remember the generation that decided them and are
// re-evaluated on their next packet after a swap.
package modes
