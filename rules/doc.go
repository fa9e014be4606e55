// Package rules loads, validates and compiles conduit's policy file, and
// decides packets against it without allocating.
//
// # Semantics
//
// Zones. A zone is a name, a Purdue level (0, 1, 2, 3, 3.5 or dmz, 4, 5,
// or unknown: valid, skipped by the level-crossing warnings) and a list of IPv4/IPv6 CIDRs (a bare address is a host CIDR). An address
// belongs to the zone with the longest matching prefix; the same prefix in
// two zones is an error. Addresses outside every zone belong to the
// pseudo-zone "unknown", which rules and conduits may name. IPv4-mapped
// IPv6 addresses are treated as IPv4.
//
// Zone bindings. A zone may name the bridge ports (ports: interface names)
// its addresses may come in on and the source MACs (macs: unicast EUI-48)
// they may come from. Zone.Admits tells whether a packet of the zone's
// addresses came from where the binding says; the engine refuses the others
// as spoofed-source before any flow lookup.
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
//   - modbus, dnp3, enip, cip, s7: an industrial-protocol condition; see
//     Protocol conditions below.
//
// Other rule keys: action (allow, the default, or deny), log (default
// true), idle_timeout (overrides conntrack.timeouts for the rule's flows),
// description, cleanup, on_unparsed, on_violation and fastpath. cleanup: true marks
// the logged catch-all scaffolding used while narrowing a policy in monitor
// mode. A cleanup rule is global (from any, to any; at most one, the last
// rule) or of one conduit (from and to one zone each and nothing else to
// match; at most one per zone pair); cleanup rules come after every other
// rule, so each counts, and goes quiet, for its own conduit.
// fastpath (default: the policy's top-level fastpath, true) lets the
// kernel pass a decided flow of an allow rule without queueing it; it is
// refused with a protocol condition or on a deny rule, and off for cleanup
// rules unless the rule says true.
//
// # Protocol conditions
//
// A rule may carry one protocol condition (enip and cip may go together).
// The condition takes no part in choosing the rule: a flow is matched to
// its rule by addresses, protocol and ports, first match wins, exactly as
// without one. The condition then judges every request PDU of the flow
// (client to server, the rule's direction). A request that meets it is
// counted in the rule's requests. One that does not is a violation of that
// rule: it is logged with the rule's name and the protocol fields, and
// on_violation decides it (drop, the default, drops the segment; reset
// also resets the TCP session at both ends, so that the client reconnects
// instead of waiting on a stalled stream). A refused request is never
// handed to a later rule, so requests of one flow cannot be split between
// two rules: one rule lists everything its flows may ask for (a later rule
// with the same addresses and ports is warned about as shadowed). Monitor
// logs violations as would-drop, enforce drops them, passthrough does not
// inspect. A protocol condition cannot go with action: deny.
//
// Traffic of such a flow that cannot be judged is never guessed at: a gap
// or reordering in the TCP stream (reason stream-gap), a PDU that does not
// parse (malformed-modbus, malformed-dnp3, malformed-enip, malformed-s7),
// or a request the condition cannot see into (an S7comm-plus PDU, a DNP3
// object list that could not be walked when objects are listed) is decided
// by on_unparsed: deny (the default) or allow. Responses are parsed for
// sanity and logging (a Modbus exception, a CIP error status), not matched.
//
// Names are the protocols' own vocabulary, shared with the parsers under
// engine/ (so a rule and a verdict log line use the same word); every name
// may also be given as a number, and a wrong name is reported with the
// list of valid ones. An empty condition ({}) asks only for well-formed
// traffic of the protocol; an absent field matches anything, except in s7.
//   - modbus: functions; preset: read_only (functions 1-4, 7, 11, 12, 17,
//     20, 24 and device identification) or read_write (adds 5, 6, 15, 16,
//     21, 22, 23), added to functions; unit_ids; addresses: {read, write},
//     ranges a request's whole span of coils or registers must lie in (a
//     plain list bounds both). read_device_identification by name is
//     function 43 with MEI type 14 only; 43 as a number is any MEI type.
//     Diagnostics (8) is in no preset: it can restart or silence a device.
//   - dnp3: functions of the master's application requests (an application
//     confirm acknowledges a response and is not judged); sources and
//     destinations, the link addresses of the master's frames (the master
//     and the outstations); objects, "group:variation" or a whole group
//     ("60"), which every object header of a request must be in.
//   - enip: commands, judged on every encapsulation message of the client.
//     cip: services and classes, judged on every CIP request the
//     encapsulation carries. Common services are named alone; object-
//     specific ones with their class (read_tag is 0x4C on the Symbol
//     class, read_template is 0x4C on the Template class), and a number
//     means that code on any class. Multiple Service Packet and Unconnected
//     Send are envelopes: the requests inside them are judged. A cip
//     condition alone leaves the encapsulation commands free.
//   - s7: functions (jobs) and userdata_groups together list what the
//     client may ask: a condition listing either refuses what neither
//     lists, so functions alone refuse every userdata request. Every S7
//     session starts with setup_communication (warned about when missing).
//     Jobs the PLC sends (download_block during a download the client
//     asked for) are parsed, not judged.
//
// on_unparsed (deny or allow) and on_violation (drop or reset) set the
// default for every rule at the top level; on a rule they need a protocol
// condition. reset needs TCP: a refused UDP request is dropped.
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
// earlier rule matches everything it does; an s7 condition without
// setup_communication; on_violation reset on a UDP rule; an allow from
// any to any not
// marked cleanup; an allowing cleanup rule while what it catches is in
// enforce (a scoped one: its conduit's mode; the global one: the global
// mode, or an enforced conduit that no scoped cleanup rule and no deny of
// the whole pair above it catches first), as it makes enforce allow
// everything there; a cleanup rule
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
// by one and does not allocate. The protocol conditions are their
// protocols' (proto/<p>, decoded through proto's table, AppCond.Cond);
// their checks use sets and ranges built at load time and do not allocate
// either.
package rules
