// Package nfq reads packets from one NFQUEUE queue and returns verdicts.
//
// It speaks the nfnetlink_queue protocol on a raw netlink socket instead of
// using go-nfqueue's receive loop, because that loop parks on Go's network
// poller, decodes every message into freshly allocated attributes and sends
// verdicts through a mutex: measured here it adds three times the latency of
// a C libnetfilter_queue loop. This reader instead blocks in recvfrom on its
// own OS thread, decodes in place into a caller-owned Packet, and writes
// verdicts from a preallocated buffer, so the packet path does not allocate.
// go-nfqueue still supplies the protocol's public constants.
//
// A Queue is used by exactly one goroutine.
package nfq
