package dnp3

import "github.com/conduit-ot/conduit/proto/internal/vocab"

// Application function codes (IEEE 1815-2012, table 4-1 and 4-2).
const (
	FuncConfirm             = 0
	FuncRead                = 1
	FuncWrite               = 2
	FuncSelect              = 3
	FuncOperate             = 4
	FuncDirectOperate       = 5
	FuncDirectOperateNR     = 6
	FuncImmediateFreeze     = 7
	FuncImmediateFreezeNR   = 8
	FuncFreezeClear         = 9
	FuncFreezeClearNR       = 10
	FuncFreezeAtTime        = 11
	FuncFreezeAtTimeNR      = 12
	FuncColdRestart         = 13
	FuncWarmRestart         = 14
	FuncInitializeData      = 15
	FuncInitializeAppl      = 16
	FuncStartAppl           = 17
	FuncStopAppl            = 18
	FuncSaveConfiguration   = 19
	FuncEnableUnsolicited   = 20
	FuncDisableUnsolicited  = 21
	FuncAssignClass         = 22
	FuncDelayMeasure        = 23
	FuncRecordCurrentTime   = 24
	FuncOpenFile            = 25
	FuncCloseFile           = 26
	FuncDeleteFile          = 27
	FuncGetFileInfo         = 28
	FuncAuthenticateFile    = 29
	FuncAbortFile           = 30
	FuncActivateConfig      = 31
	FuncAuthenticateReq     = 32
	FuncAuthenticateErr     = 33
	FuncResponse            = 129
	FuncUnsolicitedResponse = 130
	FuncAuthenticateResp    = 131
)

// functionNames is the vocabulary of the condition's functions and of
// the verdict log alike, so a name in a rule and one in a log agree.
var functionNames = [256]string{
	FuncConfirm:             "confirm",
	FuncRead:                "read",
	FuncWrite:               "write",
	FuncSelect:              "select",
	FuncOperate:             "operate",
	FuncDirectOperate:       "direct_operate",
	FuncDirectOperateNR:     "direct_operate_nr",
	FuncImmediateFreeze:     "immediate_freeze",
	FuncImmediateFreezeNR:   "immediate_freeze_nr",
	FuncFreezeClear:         "freeze_clear",
	FuncFreezeClearNR:       "freeze_clear_nr",
	FuncFreezeAtTime:        "freeze_at_time",
	FuncFreezeAtTimeNR:      "freeze_at_time_nr",
	FuncColdRestart:         "cold_restart",
	FuncWarmRestart:         "warm_restart",
	FuncInitializeData:      "initialize_data",
	FuncInitializeAppl:      "initialize_application",
	FuncStartAppl:           "start_application",
	FuncStopAppl:            "stop_application",
	FuncSaveConfiguration:   "save_configuration",
	FuncEnableUnsolicited:   "enable_unsolicited",
	FuncDisableUnsolicited:  "disable_unsolicited",
	FuncAssignClass:         "assign_class",
	FuncDelayMeasure:        "delay_measure",
	FuncRecordCurrentTime:   "record_current_time",
	FuncOpenFile:            "open_file",
	FuncCloseFile:           "close_file",
	FuncDeleteFile:          "delete_file",
	FuncGetFileInfo:         "get_file_info",
	FuncAuthenticateFile:    "authenticate_file",
	FuncAbortFile:           "abort_file",
	FuncActivateConfig:      "activate_config",
	FuncAuthenticateReq:     "authenticate_req",
	FuncAuthenticateErr:     "authenticate_err",
	FuncResponse:            "response",
	FuncUnsolicitedResponse: "unsolicited_response",
	FuncAuthenticateResp:    "authenticate_resp",
}

// FunctionName returns the policy name of an application function code,
// or "" for an undefined one.
func FunctionName(code uint8) string { return functionNames[code] }

// FunctionCode returns the code of a policy function name.
func FunctionCode(name string) (uint8, bool) { return vocab.Code(functionNames[:], name) }

// FunctionNames lists the policy function names, sorted.
func FunctionNames() []string { return vocab.Names(functionNames[:]) }

// IsResponse reports whether a function code is one of the responses
// (129-131), whose application header carries internal indications.
func IsResponse(code uint8) bool {
	return code >= FuncResponse && code <= FuncAuthenticateResp
}
