// Package capture reads pcap and pcapng files and yields the IP packets
// inside them, as NFQUEUE would hand them to the engine: the buffer starts
// at the IPv4 or IPv6 header and ends where the IP header says the packet
// ends (link-layer padding and trailers are cut off).
//
// The container format is told by its magic number, never by the file
// name. Link types: Ethernet (with any number of 802.1Q / 802.1ad tags),
// Linux cooked capture v1 (113) and v2 (276), raw IP (101, 228, 229) and
// BSD null/loopback (0, 108). Frames that do not carry IP (ARP, LLDP,
// STP, unsupported link types) are skipped and counted in Stats.
//
// Reading does not allocate per packet: Next fills a caller-owned Packet
// whose Data points into the reader's buffer, valid until the next call.
//
// A truncated or corrupt file yields every packet before the damage, then
// an *Error that says at which byte offset and in which packet record
// reading stopped.
package capture
