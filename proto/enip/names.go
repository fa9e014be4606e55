package enip

import (
	"sort"

	"github.com/conduit-ot/conduit/proto/internal/vocab"
)

// Vocabulary shared by the condition (cond.go) and the verdict log:
// encapsulation command names, and CIP service names. Services 0x01-0x1c
// are common to every class; codes from 0x4b up mean different things on
// different classes, so those are named together with the class that
// defines them.

var commandNames = map[uint16]string{
	CmdNOP: "nop", CmdListServices: "list_services", CmdListIdentity: "list_identity",
	CmdListInterfaces: "list_interfaces", CmdRegisterSession: "register_session",
	CmdUnregisterSession: "unregister_session", CmdSendRRData: "send_rr_data",
	CmdSendUnitData: "send_unit_data", CmdIndicateStatus: "indicate_status", CmdCancel: "cancel",
}

// commonServices are the CIP common services (Volume 1, Appendix A).
var commonServices = [...]string{
	0x01: "get_attributes_all", 0x02: "set_attributes_all", 0x03: "get_attribute_list",
	0x04: "set_attribute_list", 0x05: "reset", 0x06: "start", 0x07: "stop", 0x08: "create",
	0x09: "delete", 0x0a: "multiple_service_packet", 0x0d: "apply_attributes",
	0x0e: "get_attribute_single", 0x10: "set_attribute_single", 0x11: "find_next_object_instance",
	0x15: "restore", 0x16: "save", 0x17: "nop", 0x18: "get_member", 0x19: "set_member",
	0x1a: "insert_member", 0x1b: "remove_member", 0x1c: "group_sync",
}

// classServices are the object-specific services: by class, the codes
// the class defines.
var classServices = map[uint32]map[uint8]string{
	// Connection Manager.
	ClassConnectionManager: {0x4e: "forward_close", 0x52: "unconnected_send", 0x54: "forward_open",
		0x56: "get_connection_data", 0x57: "search_connection_data", 0x5a: "get_connection_owner",
		0x5b: "large_forward_open"},
	// Logix Symbol object, also addressed by tag name (see ClassSymbol).
	ClassSymbol: {0x4c: "read_tag", 0x4d: "write_tag", 0x4e: "read_modify_write_tag",
		0x52: "read_tag_fragmented", 0x53: "write_tag_fragmented", 0x55: "get_instance_attribute_list"},
	// Logix Template object.
	0x6c: {0x4c: "read_template"},
}

var classNames = map[uint32]string{
	0x01: "identity", 0x02: "message_router", 0x04: "assembly", 0x05: "connection",
	0x06: "connection_manager", 0x37: "file", 0x47: "device_level_ring", 0x48: "qos",
	0xf4: "port", 0xf5: "tcpip_interface", 0xf6: "ethernet_link",
	0x6b: "symbol", 0x6c: "template",
}

// CommandName names an encapsulation command, or returns "" when unknown.
func CommandName(c uint16) string { return commandNames[c] }

// CommandCode is the inverse of CommandName.
func CommandCode(name string) (uint16, bool) {
	return vocab.MapCode(commandNames, name)
}

// CommandNames lists the command names, sorted.
func CommandNames() []string { return vocab.MapNames(commandNames) }

// ServiceName names the CIP service code (response bit ignored) as sent to
// class, or returns "" when unknown. A common service has its name on any
// class; an object-specific one only on the class that defines it.
func ServiceName(code uint8, class uint32) string {
	code &^= responseBit
	if int(code) < len(commonServices) && commonServices[code] != "" {
		return commonServices[code]
	}
	return classServices[class][code]
}

// ServiceCode is the inverse of ServiceName: the service code and, for an
// object-specific service, the class that defines it (0 for a common one).
func ServiceCode(name string) (code uint8, class uint32, ok bool) {
	if c, ok := vocab.Code(commonServices[:], name); ok {
		return c, 0, true
	}
	for class, svcs := range classServices {
		if c, ok := vocab.MapCode(svcs, name); ok {
			return c, class, true
		}
	}
	return 0, 0, false
}

// ServiceNames lists every service name, sorted.
func ServiceNames() []string {
	out := vocab.Names(commonServices[:])
	for _, svcs := range classServices {
		out = append(out, vocab.MapNames(svcs)...)
	}
	sort.Strings(out)
	return out
}

// ClassName names a CIP object class, or returns "" when unknown.
func ClassName(class uint32) string { return classNames[class] }

// ClassCode is the inverse of ClassName.
func ClassCode(name string) (uint32, bool) {
	return vocab.MapCode(classNames, name)
}

// ClassNames lists the class names, sorted.
func ClassNames() []string { return vocab.MapNames(classNames) }
