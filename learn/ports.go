package learn

import (
	"strconv"

	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/proto"
)

// serverPorts names the well-known server ports of OT and site services
// beside those of the protocols conduit parses, which proto's table names
// (portName). A flow whose first packet is not a SYN is oriented towards
// the side that uses one of them.
var serverPorts = map[uint16]string{
	20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 67: "dhcp", 69: "tftp",
	80: "http", 123: "ntp", 135: "msrpc", 137: "netbios-ns", 138: "netbios-dgm",
	139: "netbios-ssn", 161: "snmp", 162: "snmp-trap", 389: "ldap", 443: "https", 445: "smb",
	514: "syslog", 636: "ldaps", 789: "redlion", 1089: "ff-annunc", 1090: "ff-fms",
	1091: "ff-sm", 1433: "mssql", 1883: "mqtt", 1911: "fox", 1962: "pcworx", 2222: "enip-io",
	2455: "codesys", 3389: "rdp", 4000: "emerson", 4840: "opcua", 4911: "fox-tls",
	5007: "melsec", 5094: "hart-ip", 5450: "pi", 5900: "vnc", 8080: "http-alt", 8530: "wsus",
	8531: "wsus-tls", 8883: "mqtt-tls", 9600: "fins", 18245: "ge-srtp",
	20547: "proconos", 34962: "profinet-rt", 34963: "profinet-rt", 34964: "profinet-cm",
	47808: "bacnet",
}

// portName names a well-known server port: a parsed protocol's by its
// key in proto's table (on either transport, as the port is named),
// another by serverPorts; "" for none.
func portName(port uint16) string {
	for _, id := range proto.All() {
		if proto.Table[id].Port == port {
			return proto.Table[id].Key
		}
	}
	return serverPorts[port]
}

// serviceName names a service for rule names and the matrix.
func serviceName(proto uint8, port uint16) string {
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		if n := portName(port); n != "" {
			return n
		}
		return packet.ProtoName(proto) + "-" + strconv.Itoa(int(port))
	case packet.ProtoICMP, packet.ProtoICMPv6:
		switch {
		case port == ICMPTypeUnknown:
			return packet.ProtoName(proto)
		case proto == packet.ProtoICMP && port == 8, proto == packet.ProtoICMPv6 && port == 128:
			return "ping"
		case proto == packet.ProtoICMP && port == 0, proto == packet.ProtoICMPv6 && port == 129:
			return "pong"
		}
		return packet.ProtoName(proto) + "-" + strconv.Itoa(int(port))
	}
	return "ip-" + strconv.Itoa(int(proto))
}

// serverScore says how much a port looks like a server's: a named service
// beats a system port, which beats a registered one, which beats the
// ephemeral range.
func serverScore(port uint16) int {
	switch {
	case portName(port) != "":
		return 3
	case port < 1024:
		return 2
	case port < 49152:
		return 1
	}
	return 0
}

// dstIsServer decides, for a flow first seen mid-stream, whether the first
// packet's destination is the server. conclusive is false when the ports
// do not tell (equal scores): the caller then takes the first sender as
// the client.
func dstIsServer(sport, dport uint16) (server, conclusive bool) {
	s, d := serverScore(sport), serverScore(dport)
	if s == d {
		return true, false
	}
	return d > s, true
}
