package report

import "strconv"

// services names the well-known ports of a plant's matrix.
var services = map[string]string{
	"tcp/502": "modbus", "tcp/20000": "dnp3", "udp/20000": "dnp3", "tcp/102": "s7comm",
	"tcp/44818": "enip", "udp/44818": "enip", "udp/2222": "enip-io", "tcp/4840": "opc-ua",
	"udp/47808": "bacnet", "tcp/2404": "iec-104", "udp/123": "ntp",
	"udp/53": "dns", "tcp/53": "dns", "tcp/22": "ssh", "tcp/23": "telnet", "tcp/80": "http",
	"tcp/443": "https", "tcp/3389": "rdp", "tcp/445": "smb", "udp/161": "snmp", "udp/162": "snmp-trap",
	"udp/514": "syslog", "tcp/5450": "pi-historian", "udp/67": "dhcp", "tcp/1433": "mssql",
	"icmp/8": "echo", "icmp/0": "echo-reply", "icmpv6/128": "echo", "icmpv6/129": "echo-reply",
}

// ServiceName names a protocol and port (or ICMP type); "" when unknown.
func ServiceName(proto string, port int) string {
	return services[proto+"/"+itoa(port)]
}

func itoa(n int) string { return strconv.Itoa(n) }
