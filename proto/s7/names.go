package s7

import "github.com/conduit-ot/conduit/proto/internal/vocab"

// Vocabulary shared by the condition (cond.go) and the verdict log.

var functionNames = map[uint8]string{
	FuncCPUServices: "cpu_services", FuncReadVar: "read_var", FuncWriteVar: "write_var",
	FuncRequestDownload: "request_download", FuncDownloadBlock: "download_block",
	FuncDownloadEnded: "download_ended", FuncStartUpload: "start_upload", FuncUpload: "upload",
	FuncEndUpload: "end_upload", FuncPIService: "plc_control", FuncPLCStop: "plc_stop",
	FuncSetupCommunication: "setup_communication",
}

// functionAliases are other names in use for the same functions: Wireshark
// calls 0x28 "PI-Service", Snap7 "PLC control".
var functionAliases = map[string]uint8{"pi_service": FuncPIService}

var groupNames = map[uint8]string{
	GroupModeTransition: "mode_transition", GroupProgrammer: "programmer_commands",
	GroupCyclic: "cyclic_data", GroupBlock: "block_functions", GroupCPU: "cpu_functions",
	GroupSecurity: "security", GroupBSend: "bsend_brecv", GroupTime: "time_functions",
	GroupNCProgramming: "nc_programming",
}

type groupSub struct{ group, sub uint8 }

var subfunctionNames = map[groupSub]string{
	{GroupProgrammer, 0x01}: "request_diag_data", {GroupProgrammer, 0x02}: "variable_table",
	{GroupCyclic, 0x01}: "cyclic_memory", {GroupCyclic, 0x04}: "cyclic_unsubscribe",
	{GroupBlock, 0x01}: "list_blocks", {GroupBlock, 0x02}: "list_blocks_of_type",
	{GroupBlock, 0x03}: "get_block_info",
	{GroupCPU, 0x01}:   "read_szl", {GroupCPU, 0x02}: "message_service",
	{GroupCPU, 0x03}: "diagnostic_message", {GroupCPU, 0x0b}: "alarm_ack",
	{GroupCPU, 0x13}:      "alarm_query",
	{GroupSecurity, 0x01}: "plc_password",
	{GroupTime, 0x01}:     "read_clock", {GroupTime, 0x02}: "set_clock",
	{GroupTime, 0x03}: "read_clock_following",
}

var rosctrNames = [...]string{ROSCTRJob: "job", ROSCTRAck: "ack", ROSCTRAckData: "ack_data", ROSCTRUserdata: "userdata"}

// FunctionName names a job function, or returns "" when unknown.
func FunctionName(f uint8) string { return functionNames[f] }

// FunctionCode is the inverse of FunctionName; it also accepts aliases.
func FunctionCode(name string) (uint8, bool) {
	if f, ok := functionAliases[name]; ok {
		return f, true
	}
	return vocab.MapCode(functionNames, name)
}

// FunctionNames lists the function names (without aliases), sorted.
func FunctionNames() []string { return vocab.MapNames(functionNames) }

// GroupName names a userdata function group, or returns "" when unknown.
func GroupName(g uint8) string { return groupNames[g] }

// GroupCode is the inverse of GroupName.
func GroupCode(name string) (uint8, bool) {
	return vocab.MapCode(groupNames, name)
}

// GroupNames lists the userdata group names, sorted.
func GroupNames() []string { return vocab.MapNames(groupNames) }

// SubfunctionName names a userdata subfunction of group, or returns ""
// when unknown.
func SubfunctionName(group, sub uint8) string { return subfunctionNames[groupSub{group, sub}] }

// ROSCTRName names a message type, or returns "" when unknown.
func ROSCTRName(r uint8) string {
	if int(r) < len(rosctrNames) {
		return rosctrNames[r]
	}
	return ""
}

// Block decodes an up/download file name such as "_0A00001P": '_', the
// block type as two hex digits, a five-digit number, the file system.
// typ is "" when the name does not have that form.
func Block(filename []byte) (typ string, number uint32) {
	if len(filename) != 9 || filename[0] != '_' || filename[1] != '0' {
		return "", 0
	}
	switch filename[2] {
	case '8':
		typ = "OB"
	case 'A':
		typ = "DB"
	case 'B':
		typ = "SDB"
	case 'C':
		typ = "FC"
	case 'D':
		typ = "SFC"
	case 'E':
		typ = "FB"
	case 'F':
		typ = "SFB"
	default:
		return "", 0
	}
	for _, c := range filename[3:8] {
		if c < '0' || c > '9' {
			return "", 0
		}
		number = number*10 + uint32(c-'0')
	}
	return typ, number
}

// UserdataTypeName names a userdata type: "push", "request" or "response",
// or returns "" when unknown.
func UserdataTypeName(t uint8) string {
	switch t {
	case UserdataPush:
		return "push"
	case UserdataRequest:
		return "request"
	case UserdataResponse:
		return "response"
	}
	return ""
}
