package rules

import (
	"sort"

	"gopkg.in/yaml.v3"
)

// Industrial-protocol conditions. Their shape is checked here so a policy
// written today keeps its meaning; the matching lands with the protocol
// parsers, and until then a rule using one is refused.

var appKeys = []string{"modbus", "dnp3", "enip", "cip", "s7"}

type appSlot uint8

const (
	slotFunctions appSlot = iota
	slotUnitIDs
	slotAddresses
	slotClasses
)

type appField struct {
	slot  appSlot
	max   int64
	names map[string]uint16 // for function-like fields; nil for ranges
}

type appSpec struct {
	protos []uint8
	fields map[string]appField
}

func (s appSpec) allows(p uint8) bool {
	for _, x := range s.protos {
		if x == p {
			return true
		}
	}
	return false
}

func (s appSpec) protoNames() []string {
	var out []string
	for _, p := range s.protos {
		out = append(out, ProtoName(p))
	}
	return out
}

var appSpecs = map[string]appSpec{
	"modbus": {protos: []uint8{ProtoTCP}, fields: map[string]appField{
		"functions": {slotFunctions, 127, modbusFunctions},
		"unit_ids":  {slotUnitIDs, 255, nil},
		"addresses": {slotAddresses, 65535, nil},
	}},
	"dnp3": {protos: []uint8{ProtoTCP, ProtoUDP}, fields: map[string]appField{
		"functions": {slotFunctions, 255, dnp3Functions},
		"addresses": {slotAddresses, 65535, nil},
	}},
	"enip": {protos: []uint8{ProtoTCP, ProtoUDP}, fields: map[string]appField{
		"commands": {slotFunctions, 65535, enipCommands},
	}},
	"cip": {protos: []uint8{ProtoTCP, ProtoUDP}, fields: map[string]appField{
		"services": {slotFunctions, 127, cipServices},
		"classes":  {slotClasses, 65535, nil},
	}},
	"s7": {protos: []uint8{ProtoTCP}, fields: map[string]appField{
		"functions": {slotFunctions, 255, s7Functions},
	}},
}

var modbusFunctions = map[string]uint16{
	"read_coils": 1, "read_discrete_inputs": 2, "read_holding_registers": 3, "read_input_registers": 4,
	"write_single_coil": 5, "write_single_register": 6, "read_exception_status": 7, "diagnostics": 8,
	"get_comm_event_counter": 11, "get_comm_event_log": 12, "write_multiple_coils": 15,
	"write_multiple_registers": 16, "report_server_id": 17, "read_file_record": 20,
	"write_file_record": 21, "mask_write_register": 22, "read_write_multiple_registers": 23,
	"read_fifo_queue": 24, "read_device_identification": 43,
}

var dnp3Functions = map[string]uint16{
	"confirm": 0, "read": 1, "write": 2, "select": 3, "operate": 4, "direct_operate": 5,
	"direct_operate_nr": 6, "immediate_freeze": 7, "immediate_freeze_nr": 8, "freeze_clear": 9,
	"freeze_clear_nr": 10, "freeze_at_time": 11, "freeze_at_time_nr": 12, "cold_restart": 13,
	"warm_restart": 14, "initialize_data": 15, "initialize_application": 16, "start_application": 17,
	"stop_application": 18, "save_configuration": 19, "enable_unsolicited": 20,
	"disable_unsolicited": 21, "assign_class": 22, "delay_measure": 23, "record_current_time": 24,
	"open_file": 25, "close_file": 26, "delete_file": 27, "get_file_info": 28,
	"authenticate_file": 29, "abort_file": 30, "activate_config": 31, "authenticate_req": 32,
	"authenticate_err": 33, "response": 129, "unsolicited_response": 130, "authenticate_resp": 131,
}

var enipCommands = map[string]uint16{
	"nop": 0x00, "list_services": 0x04, "list_identity": 0x63, "list_interfaces": 0x64,
	"register_session": 0x65, "unregister_session": 0x66, "send_rr_data": 0x6f,
	"send_unit_data": 0x70, "indicate_status": 0x72, "cancel": 0x73,
}

var cipServices = map[string]uint16{
	"get_attributes_all": 0x01, "set_attributes_all": 0x02, "get_attribute_list": 0x03,
	"set_attribute_list": 0x04, "reset": 0x05, "start": 0x06, "stop": 0x07, "create": 0x08,
	"delete": 0x09, "multiple_service_packet": 0x0a, "apply_attributes": 0x0d,
	"get_attribute_single": 0x0e, "set_attribute_single": 0x10, "find_next_object_instance": 0x11,
	"restore": 0x15, "save": 0x16, "nop": 0x17, "get_member": 0x18, "set_member": 0x19,
	"insert_member": 0x1a, "remove_member": 0x1b, "group_sync": 0x1c,
	"read_tag": 0x4c, "write_tag": 0x4d, "forward_close": 0x4e, "read_tag_fragmented": 0x52,
	"write_tag_fragmented": 0x53, "forward_open": 0x54, "large_forward_open": 0x5b,
}

var s7Functions = map[string]uint16{
	"cpu_services": 0x00, "read_var": 0x04, "write_var": 0x05, "request_download": 0x1a,
	"download_block": 0x1b, "download_ended": 0x1c, "start_upload": 0x1d, "upload": 0x1e,
	"end_upload": 0x1f, "plc_control": 0x28, "plc_stop": 0x29, "setup_communication": 0xf0,
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// appCond decodes a protocol condition such as
// modbus: {functions: [read_coils, 4], unit_ids: [1, "10-20"]}.
func (d *decoder) appCond(n *yaml.Node, ctx, proto string) *AppCond {
	spec := appSpecs[proto]
	c := &AppCond{Proto: proto}
	f := d.fields(n, ctx, proto+" conditions", sortedKeys(spec.fields))
	for _, key := range sortedKeys(spec.fields) {
		v, ok := f[key]
		if !ok {
			continue
		}
		fs := spec.fields[key]
		items, ok := d.items(v.val, ctx, proto+"."+key)
		if !ok {
			continue
		}
		for _, it := range items {
			if fs.names != nil {
				if code, ok := d.function(it, ctx, proto, key, fs); ok {
					c.Functions = append(c.Functions, code)
				}
				continue
			}
			r, ok := d.portRange(it, ctx, proto+"."+key, fs.max)
			if !ok {
				continue
			}
			switch fs.slot {
			case slotUnitIDs:
				c.UnitIDs = append(c.UnitIDs, r)
			case slotAddresses:
				c.Addresses = append(c.Addresses, r)
			case slotClasses:
				c.Classes = append(c.Classes, r)
			}
		}
	}
	return c
}

// function decodes a function name or number.
func (d *decoder) function(n *yaml.Node, ctx, proto, key string, fs appField) (uint16, bool) {
	s, ok := d.scalar(n, ctx, proto+"."+key)
	if !ok {
		return 0, false
	}
	if code, ok := fs.names[s]; ok {
		return code, true
	}
	if v, ok := parseInt(s); ok {
		if v < 0 || v > fs.max {
			d.errf(n, "%s%s.%s: %d is out of range 0-%d", ctx, proto, key, v, fs.max)
			return 0, false
		}
		return uint16(v), true
	}
	d.errf(n, "%s%s.%s: unknown %s name %q%s", ctx, proto, key, proto, s, suggest(s, sortedKeys(fs.names)))
	return 0, false
}
