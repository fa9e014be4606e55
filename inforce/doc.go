// Package inforce holds the policy in force and how a new one replaces it.
//
// The running policy is an immutable *rules.Policy behind an atomic pointer,
// stamped with a generation (Store). Queue readers load it once per packet;
// a reload (Reloader) parses, validates and compiles the new file off the
// packet path and swaps the pointer, so the packet path never waits for a
// reload and never sees a half-built policy. Flows remember the generation
// that decided them and are re-evaluated on their next packet after a swap.
// Watch reloads when the file changes on disk.
package inforce
