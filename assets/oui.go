package assets

import "net"

// ouiVendors names the organisations of a few MAC prefixes (IEEE OUIs) of
// industrial equipment makers, so an inventory says "Rockwell" next to a
// PLC's MAC. It is deliberately small; tshark's manuf file has them all.
var ouiVendors = map[[3]byte]string{
	{0x00, 0x00, 0xbc}: "Rockwell Automation",
	{0x00, 0x1d, 0x9c}: "Rockwell Automation",
	{0x00, 0x0e, 0x8c}: "Siemens",
	{0x00, 0x1b, 0x1b}: "Siemens",
	{0x00, 0x80, 0xf4}: "Schneider Electric (Telemecanique)",
	{0x00, 0x00, 0x54}: "Schneider Electric",
	{0x00, 0xa0, 0x45}: "Phoenix Contact",
	{0x00, 0x01, 0x05}: "Beckhoff Automation",
	{0x00, 0x30, 0xde}: "WAGO",
	{0x00, 0x90, 0xe8}: "Moxa",
	{0x00, 0x80, 0x63}: "Hirschmann",
	{0x00, 0x00, 0x0a}: "Omron",
	{0x00, 0x09, 0x91}: "GE Intelligent Platforms",
	{0x00, 0x40, 0x84}: "Honeywell",
	{0x00, 0x00, 0x64}: "Yokogawa",
}

// OUIVendor names the maker of mac's OUI, or "" when the table does not
// know it or the address is locally administered.
func OUIVendor(mac net.HardwareAddr) string {
	if len(mac) < 3 || mac[0]&0x02 != 0 {
		return ""
	}
	return ouiVendors[[3]byte{mac[0], mac[1], mac[2]}]
}
