package modbus

import "github.com/conduit-ot/conduit/proto/internal/vocab"

// Public function codes (Modbus Application Protocol V1.1b3, section 5.1).
const (
	ReadCoils                  = 1
	ReadDiscreteInputs         = 2
	ReadHoldingRegisters       = 3
	ReadInputRegisters         = 4
	WriteSingleCoil            = 5
	WriteSingleRegister        = 6
	ReadExceptionStatus        = 7
	Diagnostics                = 8
	GetCommEventCounter        = 11
	GetCommEventLog            = 12
	WriteMultipleCoils         = 15
	WriteMultipleRegisters     = 16
	ReportServerID             = 17
	ReadFileRecord             = 20
	WriteFileRecord            = 21
	MaskWriteRegister          = 22
	ReadWriteMultipleRegisters = 23
	ReadFIFOQueue              = 24
	EncapsulatedInterface      = 43 // MEI transport: device identification, CANopen
)

// MEI types carried by function 43.
const (
	MEICANopen                  = 13
	MEIReadDeviceIdentification = 14
)

// functionNames is the vocabulary of the condition's functions and of
// the verdict log alike, so a name in a rule and one in a log agree.
var functionNames = [128]string{
	ReadCoils:                  "read_coils",
	ReadDiscreteInputs:         "read_discrete_inputs",
	ReadHoldingRegisters:       "read_holding_registers",
	ReadInputRegisters:         "read_input_registers",
	WriteSingleCoil:            "write_single_coil",
	WriteSingleRegister:        "write_single_register",
	ReadExceptionStatus:        "read_exception_status",
	Diagnostics:                "diagnostics",
	GetCommEventCounter:        "get_comm_event_counter",
	GetCommEventLog:            "get_comm_event_log",
	WriteMultipleCoils:         "write_multiple_coils",
	WriteMultipleRegisters:     "write_multiple_registers",
	ReportServerID:             "report_server_id",
	ReadFileRecord:             "read_file_record",
	WriteFileRecord:            "write_file_record",
	MaskWriteRegister:          "mask_write_register",
	ReadWriteMultipleRegisters: "read_write_multiple_registers",
	ReadFIFOQueue:              "read_fifo_queue",
	EncapsulatedInterface:      "read_device_identification",
}

// FunctionName returns the policy name of a public function code, or ""
// for an unassigned or user-defined one. The exception bit is ignored.
func FunctionName(code uint8) string { return functionNames[code&0x7f] }

// FunctionCode returns the code of a policy function name.
func FunctionCode(name string) (uint8, bool) { return vocab.Code(functionNames[:], name) }

// FunctionNames lists the policy function names, sorted.
func FunctionNames() []string { return vocab.Names(functionNames[:]) }

// exceptionNames follows section 7 of the specification.
var exceptionNames = [12]string{
	1:  "illegal_function",
	2:  "illegal_data_address",
	3:  "illegal_data_value",
	4:  "server_device_failure",
	5:  "acknowledge",
	6:  "server_device_busy",
	8:  "memory_parity_error",
	10: "gateway_path_unavailable",
	11: "gateway_target_failed_to_respond",
}

// ExceptionName names an exception code, or returns "" for an unassigned one.
func ExceptionName(code uint8) string {
	if int(code) < len(exceptionNames) {
		return exceptionNames[code]
	}
	return ""
}
