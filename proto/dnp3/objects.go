package dnp3

// What a request function's objects carry, to step from one object header
// to the next. Objects with an object size prefix (qualifier prefix codes
// 4-6, such as file and authentication objects under 0x5B) say their own
// size and never reach this table.
const (
	dataUnknown = iota // an undefined function: objects not walked
	dataNone           // headers only (an index prefix still follows each)
	dataTable          // object data sized by dataBits
	dataFreeze         // freeze at time: time and interval, then headers only
)

var requestData = [34]uint8{
	FuncConfirm: dataNone, FuncRead: dataNone,
	FuncWrite: dataTable, FuncSelect: dataTable, FuncOperate: dataTable,
	FuncDirectOperate: dataTable, FuncDirectOperateNR: dataTable,
	FuncImmediateFreeze: dataNone, FuncImmediateFreezeNR: dataNone,
	FuncFreezeClear: dataNone, FuncFreezeClearNR: dataNone,
	FuncFreezeAtTime: dataFreeze, FuncFreezeAtTimeNR: dataFreeze,
	FuncColdRestart: dataNone, FuncWarmRestart: dataNone,
	FuncInitializeData: dataNone, FuncInitializeAppl: dataNone,
	FuncStartAppl: dataNone, FuncStopAppl: dataNone,
	FuncSaveConfiguration: dataNone, FuncEnableUnsolicited: dataNone,
	FuncDisableUnsolicited: dataNone, FuncAssignClass: dataNone,
	FuncDelayMeasure: dataNone, FuncRecordCurrentTime: dataNone,
	FuncOpenFile: dataTable, FuncCloseFile: dataTable, FuncDeleteFile: dataTable,
	FuncGetFileInfo: dataTable, FuncAuthenticateFile: dataTable, FuncAbortFile: dataTable,
	FuncActivateConfig: dataTable, FuncAuthenticateReq: dataTable, FuncAuthenticateErr: dataTable,
}

// Sentinels of objectBits.
const (
	sizeUnknown   = -1
	sizeAttribute = -2 // device attributes (group 0): type, length, value
)

// objectBits returns the size in bits of one object of group g, variation
// v in a request of function fc (0 for a header without data).
func objectBits(fc, g, v uint8) int {
	switch requestData[fc] {
	case dataNone:
		return 0
	case dataFreeze:
		if g == 50 && v == 2 {
			return 80
		}
		return 0
	}
	switch g {
	case 0:
		if v < 254 { // 254 and 255 are "all attributes" and "list": read-only
			return sizeAttribute
		}
	case 110, 112: // octet string, virtual terminal output: v bytes
		if v > 0 {
			return 8 * int(v)
		}
	}
	return fixedBits(g, v)
}

// fixedBits sizes the fixed-size objects a request carries data for:
// controls, analog outputs, deadbands, time and the IIN bits.
func fixedBits(g, v uint8) int {
	switch uint16(g)<<8 | uint16(v) {
	case 12<<8 | 1, 12<<8 | 2: // control relay output block, pattern control block
		return 88
	case 12<<8 | 3, 80<<8 | 1: // pattern mask, internal indications: packed bits
		return 1
	case 34<<8 | 1: // analog input deadband, 16-bit
		return 16
	case 34<<8 | 2, 34<<8 | 3: // 32-bit, float
		return 32
	case 41<<8 | 1, 41<<8 | 3: // analog output, 32-bit or float, and status
		return 40
	case 41<<8 | 2: // 16-bit
		return 24
	case 41<<8 | 4: // double
		return 72
	case 50<<8 | 1, 50<<8 | 3: // time and date; at last recorded time
		return 48
	case 50<<8 | 2: // time and date with interval
		return 80
	case 50<<8 | 4: // indexed absolute time and long interval
		return 88
	}
	return sizeUnknown
}
