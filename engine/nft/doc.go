// Package nft installs, replaces and removes conduit's nftables table over
// netlink.
//
// conduit owns exactly one table, named "conduit", and touches nothing else.
// Its forward-hook chain, in order (forwardRules): a counter-only ct rule
// that makes the kernel load connection tracking for the table, which
// brings defragmentation with it (fragments are reassembled before they
// reach the queue, so a non-first fragment is never judged without its
// transport header); the kernel pre-filter (prefilter.go), which drops in
// enforce what no allow rule of the policy could match and counts and logs
// it per rule; the app queue for the flows of protocol-condition rules
// (appqueue.go), without bypass or fail-open; and the queue rule, which
// sends every other IPv4 and IPv6 packet to the NFQUEUE queues
// num..num+count-1, flow-balanced, with the bypass flag when the operator
// chose fail-open. A second chain at a later priority counts the packets
// accepted without conduit's verdict mark (marks.go). A reload replaces
// the whole table in one batch (Installed.Replace).
//
// Kernels differ in how they can queue: the native nftables "queue"
// expression needs CONFIG_NFT_QUEUE; without it, the xtables NFQUEUE target
// is reachable through nft_compat, and some kernels refuse compat
// expressions in inet tables. Install tries the candidates in order, each as
// one atomic batch, and keeps the first the kernel accepts: with the
// pre-filter and NFLOG, without NFLOG, and as the last resort without the
// pre-filter.
package nft
