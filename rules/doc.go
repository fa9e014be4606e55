// Package rules loads, validates and compiles conduit's policy file, and
// decides packets against it without allocating.
//
// # Semantics
//
// Zones. A zone is a name, a Purdue level (0, 1, 2, 3, 3.5 or dmz, 4, 5)
// and a list of IPv4/IPv6 CIDRs (a bare address is a host CIDR). An address
// belongs to the zone with the longest matching prefix; the same prefix in
// two zones is an error. Addresses outside every zone belong to the
// pseudo-zone "unknown", which rules and conduits may name. IPv4-mapped
// IPv6 addresses are treated as IPv4.
//
// Rules. Rules are evaluated top to bottom and the first match wins. If
// none matches, the implicit last rule "default" applies (default: deny
// unless the policy says default: allow, which is warned about).
//
// Direction. Rules are written in the request direction: from is the side
// that opens the flow, to the side that answers. Replies of an allowed flow
// are let through by the connection table, never by evaluating rules
// backwards, so no rule is needed (or wanted) for the return traffic.
//
// Conditions. Every condition of a rule must hold; an absent one matches
// anything.
//   - from, to: any, a zone name, a CIDR or address, or a list of zones
//     and CIDRs (any of which may match). A zone name matches the addresses
//     whose zone (by longest prefix) is that zone: an address that belongs
//     to a more specific zone nested inside it does not match. A CIDR
//     matches the addresses it contains, whatever their zone.
//   - proto: tcp, udp, icmp, icmpv6 or any (the default).
//   - sport, dport: a port, a range "a-b", or a list of them; only with
//     proto tcp or udp.
//   - icmp_types: a list of ICMP types; only with proto icmp or icmpv6.
//   - modbus, dnp3, enip, cip, s7: industrial-protocol conditions. Their
//     shape is validated, but a rule using one is refused ("not yet
//     supported") until the protocol matchers exist, never silently
//     ignored. The same holds for on_unparsed and on_violation.
//
// Other rule keys: action (allow, the default, or deny), log (default
// true), idle_timeout (overrides conntrack.timeouts for the rule's flows),
// description, and cleanup. cleanup: true marks the logged catch-all
// scaffolding used while narrowing a policy in monitor mode; there may be
// one, and it must be the last rule.
//
// Modes. The global mode (passthrough, monitor or enforce; default
// monitor) applies unless a conduit overrides it for a zone pair. A conduit
// is directional as written: the conduit from A to B governs flows opened
// from zone A to zone B.
//
// Strictness. Unknown keys, wrong types, bad CIDRs, ports and durations,
// unknown zone names and duplicate names are errors, every one reported at
// once with file:line:column. Anchors and aliases are refused, as are files
// over MaxFileSize and files that are not UTF-8 text.
//
// Durations use Go syntax plus a "d" (24h) unit: 30s, 10m, 2h, 7d, 1d12h.
//
// Warnings. A valid policy may still carry warnings (Policy.Warnings, each
// with its line and column): a rule that can never match because an
// earlier rule matches everything it does; an allow from any to any not
// marked cleanup; an allowing cleanup rule while the global mode or any
// conduit is enforce (it makes enforce allow everything); a cleanup rule
// with log: false; an allow rule whose zones are more than one Purdue
// level apart (with a DMZ zone in the policy, 3.5 counts as a level, so 4
// to 3 directly skips it); a zone no rule names (by name or by a CIDR
// inside it); no rules at all; default: allow.
//
// # Packet path
//
// Policy is immutable once Parse returns it and safe for concurrent use.
// Zone resolves an address by binary search over a range table; Match
// intersects per-condition bitsets of rules (source zone or CIDR,
// destination zone or CIDR, protocol with destination port or ICMP type,
// source port) and returns the first set bit, so it never scans rules one
// by one and does not allocate.
package rules
