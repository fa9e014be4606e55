// Package nft installs and removes conduit's nftables table over netlink.
//
// conduit owns exactly one table, named "conduit", and touches nothing else.
// The table holds a forward-hook chain that sends every IPv4 and IPv6
// packet to the NFQUEUE queues num..num+count-1, flow-balanced, with the
// bypass flag when the operator chose fail-open. A counter-only ct rule in
// front of the queue rule makes the kernel load connection tracking for the
// table, which brings defragmentation with it: fragments are reassembled
// before they reach the queue, so a non-first fragment can never be judged
// without its transport header.
//
// Kernels differ in how they can queue: the native nftables "queue"
// expression needs CONFIG_NFT_QUEUE; without it, the xtables NFQUEUE target
// is reachable through nft_compat, and some kernels refuse compat
// expressions in inet tables. Install tries the candidates in order, each as
// one atomic batch, and keeps the first the kernel accepts.
package nft
