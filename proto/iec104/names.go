package iec104

import (
	"strings"

	"github.com/conduit-ot/conduit/proto/internal/vocab"
)

// Type identifications (IEC 60870-5-101 7.2.1, IEC 60870-5-104 9, and the
// security types of IEC 60870-5-7), under the names the standard gives
// them: every SCADA engineer and Wireshark know them so.
const (
	M_SP_NA_1 = 1   // single-point information
	M_SP_TA_1 = 2   // single-point information with time tag
	M_DP_NA_1 = 3   // double-point information
	M_DP_TA_1 = 4   // double-point information with time tag
	M_ST_NA_1 = 5   // step position information
	M_ST_TA_1 = 6   // step position information with time tag
	M_BO_NA_1 = 7   // bitstring of 32 bits
	M_BO_TA_1 = 8   // bitstring of 32 bits with time tag
	M_ME_NA_1 = 9   // measured value, normalized value
	M_ME_TA_1 = 10  // measured value, normalized value with time tag
	M_ME_NB_1 = 11  // measured value, scaled value
	M_ME_TB_1 = 12  // measured value, scaled value with time tag
	M_ME_NC_1 = 13  // measured value, short floating point number
	M_ME_TC_1 = 14  // measured value, short floating point number with time tag
	M_IT_NA_1 = 15  // integrated totals
	M_IT_TA_1 = 16  // integrated totals with time tag
	M_EP_TA_1 = 17  // event of protection equipment with time tag
	M_EP_TB_1 = 18  // packed start events of protection equipment with time tag
	M_EP_TC_1 = 19  // packed output circuit information of protection equipment with time tag
	M_PS_NA_1 = 20  // packed single-point information with status change detection
	M_ME_ND_1 = 21  // measured value, normalized value without quality descriptor
	M_SP_TB_1 = 30  // single-point information with time tag CP56Time2a
	M_DP_TB_1 = 31  // double-point information with time tag CP56Time2a
	M_ST_TB_1 = 32  // step position information with time tag CP56Time2a
	M_BO_TB_1 = 33  // bitstring of 32 bits with time tag CP56Time2a
	M_ME_TD_1 = 34  // measured value, normalized value with time tag CP56Time2a
	M_ME_TE_1 = 35  // measured value, scaled value with time tag CP56Time2a
	M_ME_TF_1 = 36  // measured value, short floating point number with time tag CP56Time2a
	M_IT_TB_1 = 37  // integrated totals with time tag CP56Time2a
	M_EP_TD_1 = 38  // event of protection equipment with time tag CP56Time2a
	M_EP_TE_1 = 39  // packed start events of protection equipment with time tag CP56Time2a
	M_EP_TF_1 = 40  // packed output circuit information of protection equipment with time tag CP56Time2a
	S_IT_TC_1 = 41  // integrated totals containing time tagged security statistics
	C_SC_NA_1 = 45  // single command
	C_DC_NA_1 = 46  // double command
	C_RC_NA_1 = 47  // regulating step command
	C_SE_NA_1 = 48  // set point command, normalized value
	C_SE_NB_1 = 49  // set point command, scaled value
	C_SE_NC_1 = 50  // set point command, short floating point number
	C_BO_NA_1 = 51  // bitstring of 32 bits
	C_SC_TA_1 = 58  // single command with time tag CP56Time2a
	C_DC_TA_1 = 59  // double command with time tag CP56Time2a
	C_RC_TA_1 = 60  // regulating step command with time tag CP56Time2a
	C_SE_TA_1 = 61  // set point command, normalized value with time tag CP56Time2a
	C_SE_TB_1 = 62  // set point command, scaled value with time tag CP56Time2a
	C_SE_TC_1 = 63  // set point command, short floating point number with time tag CP56Time2a
	C_BO_TA_1 = 64  // bitstring of 32 bits with time tag CP56Time2a
	M_EI_NA_1 = 70  // end of initialization
	S_CH_NA_1 = 81  // authentication challenge
	S_RP_NA_1 = 82  // authentication reply
	S_AR_NA_1 = 83  // aggressive mode authentication request
	S_KR_NA_1 = 84  // session key status request
	S_KS_NA_1 = 85  // session key status
	S_KC_NA_1 = 86  // session key change
	S_ER_NA_1 = 87  // authentication error
	S_UC_NA_1 = 88  // user certificate
	S_US_NA_1 = 90  // user status change
	S_UQ_NA_1 = 91  // update key change request
	S_UR_NA_1 = 92  // update key change reply
	S_UK_NA_1 = 93  // update key change symmetric
	S_UA_NA_1 = 94  // update key change asymmetric
	S_UF_NA_1 = 95  // update key change confirmation
	C_IC_NA_1 = 100 // interrogation command
	C_CI_NA_1 = 101 // counter interrogation command
	C_RD_NA_1 = 102 // read command
	C_CS_NA_1 = 103 // clock synchronization command
	C_TS_NA_1 = 104 // test command
	C_RP_NA_1 = 105 // reset process command
	C_CD_NA_1 = 106 // delay acquisition command
	C_TS_TA_1 = 107 // test command with time tag CP56Time2a
	P_ME_NA_1 = 110 // parameter of measured value, normalized value
	P_ME_NB_1 = 111 // parameter of measured value, scaled value
	P_ME_NC_1 = 112 // parameter of measured value, short floating point number
	P_AC_NA_1 = 113 // parameter activation
	F_FR_NA_1 = 120 // file ready
	F_SR_NA_1 = 121 // section ready
	F_SC_NA_1 = 122 // call directory, select file, call file, call section
	F_LS_NA_1 = 123 // last section, last segment
	F_AF_NA_1 = 124 // ack file, ack section
	F_SG_NA_1 = 125 // segment
	F_DR_TA_1 = 126 // directory
	F_SC_NB_1 = 127 // query log, request archive file
)

// typeInfo is what the parser knows of a type: its name and the octets of
// one information element (the object without its address). fixed is
// false where the standard gives no fixed length (the security types, the
// file segment), so the ASDU's length is not checked.
type typeInfo struct {
	name  string
	elem  uint8
	fixed bool
}

// types is indexed by type identification; the element sizes are those of
// IEC 60870-5-101 7.3 (time tags: CP24Time2a 3, CP56Time2a 7 octets).
var types = [256]typeInfo{
	M_SP_NA_1: {"M_SP_NA_1", 1, true},
	M_SP_TA_1: {"M_SP_TA_1", 4, true},
	M_DP_NA_1: {"M_DP_NA_1", 1, true},
	M_DP_TA_1: {"M_DP_TA_1", 4, true},
	M_ST_NA_1: {"M_ST_NA_1", 2, true},
	M_ST_TA_1: {"M_ST_TA_1", 5, true},
	M_BO_NA_1: {"M_BO_NA_1", 5, true},
	M_BO_TA_1: {"M_BO_TA_1", 8, true},
	M_ME_NA_1: {"M_ME_NA_1", 3, true},
	M_ME_TA_1: {"M_ME_TA_1", 6, true},
	M_ME_NB_1: {"M_ME_NB_1", 3, true},
	M_ME_TB_1: {"M_ME_TB_1", 6, true},
	M_ME_NC_1: {"M_ME_NC_1", 5, true},
	M_ME_TC_1: {"M_ME_TC_1", 8, true},
	M_IT_NA_1: {"M_IT_NA_1", 5, true},
	M_IT_TA_1: {"M_IT_TA_1", 8, true},
	M_EP_TA_1: {"M_EP_TA_1", 6, true},
	M_EP_TB_1: {"M_EP_TB_1", 7, true},
	M_EP_TC_1: {"M_EP_TC_1", 7, true},
	M_PS_NA_1: {"M_PS_NA_1", 5, true},
	M_ME_ND_1: {"M_ME_ND_1", 2, true},
	M_SP_TB_1: {"M_SP_TB_1", 8, true},
	M_DP_TB_1: {"M_DP_TB_1", 8, true},
	M_ST_TB_1: {"M_ST_TB_1", 9, true},
	M_BO_TB_1: {"M_BO_TB_1", 12, true},
	M_ME_TD_1: {"M_ME_TD_1", 10, true},
	M_ME_TE_1: {"M_ME_TE_1", 10, true},
	M_ME_TF_1: {"M_ME_TF_1", 12, true},
	M_IT_TB_1: {"M_IT_TB_1", 12, true},
	M_EP_TD_1: {"M_EP_TD_1", 10, true},
	M_EP_TE_1: {"M_EP_TE_1", 11, true},
	M_EP_TF_1: {"M_EP_TF_1", 11, true},
	S_IT_TC_1: {"S_IT_TC_1", 0, false},
	C_SC_NA_1: {"C_SC_NA_1", 1, true},
	C_DC_NA_1: {"C_DC_NA_1", 1, true},
	C_RC_NA_1: {"C_RC_NA_1", 1, true},
	C_SE_NA_1: {"C_SE_NA_1", 3, true},
	C_SE_NB_1: {"C_SE_NB_1", 3, true},
	C_SE_NC_1: {"C_SE_NC_1", 5, true},
	C_BO_NA_1: {"C_BO_NA_1", 4, true},
	C_SC_TA_1: {"C_SC_TA_1", 8, true},
	C_DC_TA_1: {"C_DC_TA_1", 8, true},
	C_RC_TA_1: {"C_RC_TA_1", 8, true},
	C_SE_TA_1: {"C_SE_TA_1", 10, true},
	C_SE_TB_1: {"C_SE_TB_1", 10, true},
	C_SE_TC_1: {"C_SE_TC_1", 12, true},
	C_BO_TA_1: {"C_BO_TA_1", 11, true},
	M_EI_NA_1: {"M_EI_NA_1", 1, true},
	S_CH_NA_1: {"S_CH_NA_1", 0, false},
	S_RP_NA_1: {"S_RP_NA_1", 0, false},
	S_AR_NA_1: {"S_AR_NA_1", 0, false},
	S_KR_NA_1: {"S_KR_NA_1", 0, false},
	S_KS_NA_1: {"S_KS_NA_1", 0, false},
	S_KC_NA_1: {"S_KC_NA_1", 0, false},
	S_ER_NA_1: {"S_ER_NA_1", 0, false},
	S_UC_NA_1: {"S_UC_NA_1", 0, false},
	S_US_NA_1: {"S_US_NA_1", 0, false},
	S_UQ_NA_1: {"S_UQ_NA_1", 0, false},
	S_UR_NA_1: {"S_UR_NA_1", 0, false},
	S_UK_NA_1: {"S_UK_NA_1", 0, false},
	S_UA_NA_1: {"S_UA_NA_1", 0, false},
	S_UF_NA_1: {"S_UF_NA_1", 0, false},
	C_IC_NA_1: {"C_IC_NA_1", 1, true},
	C_CI_NA_1: {"C_CI_NA_1", 1, true},
	C_RD_NA_1: {"C_RD_NA_1", 0, true},
	C_CS_NA_1: {"C_CS_NA_1", 7, true},
	C_TS_NA_1: {"C_TS_NA_1", 2, true},
	C_RP_NA_1: {"C_RP_NA_1", 1, true},
	C_CD_NA_1: {"C_CD_NA_1", 2, true},
	C_TS_TA_1: {"C_TS_TA_1", 9, true},
	P_ME_NA_1: {"P_ME_NA_1", 3, true},
	P_ME_NB_1: {"P_ME_NB_1", 3, true},
	P_ME_NC_1: {"P_ME_NC_1", 5, true},
	P_AC_NA_1: {"P_AC_NA_1", 1, true},
	F_FR_NA_1: {"F_FR_NA_1", 6, true},
	F_SR_NA_1: {"F_SR_NA_1", 7, true},
	F_SC_NA_1: {"F_SC_NA_1", 4, true},
	F_LS_NA_1: {"F_LS_NA_1", 5, true},
	F_AF_NA_1: {"F_AF_NA_1", 4, true},
	F_SG_NA_1: {"F_SG_NA_1", 0, false},
	F_DR_TA_1: {"F_DR_TA_1", 13, true},
	F_SC_NB_1: {"F_SC_NB_1", 16, true},
}

// TypeName returns the standard's name of a type identification
// ("C_SC_NA_1"), or "" for a reserved or private one.
func TypeName(t uint8) string { return types[t].name }

// TypeCode returns the type identification of a name, matched without
// regard to case ("c_sc_na_1" is C_SC_NA_1).
func TypeCode(name string) (uint8, bool) {
	if name == "" {
		return 0, false
	}
	for t := range types {
		if strings.EqualFold(types[t].name, name) {
			return uint8(t), true
		}
	}
	return 0, false
}

// TypeNames lists the type names, in code order.
func TypeNames() []string {
	var out []string
	for _, ti := range types {
		if ti.name != "" {
			out = append(out, ti.name)
		}
	}
	return out
}

// Control reports whether a type identification belongs to the control
// direction (IEC 60870-5-101 table 8 and 104 section 9): process commands
// (45-69), system commands (100-109), parameters (110-119) and file
// transfer (120-127), which a controlling station sends and the
// controlled station mirrors back with the activation confirmation and
// termination causes. The monitor direction's process (1-44) and system
// (70) information is the outstation's own.
func Control(t uint8) bool {
	return t >= 45 && t <= 69 || t >= 100 && t <= 127
}

// Causes of transmission (IEC 60870-5-101 7.2.3, IEC 60870-5-7 for 14-16).
const (
	CausePer           = 1  // periodic, cyclic
	CauseBack          = 2  // background scan
	CauseSpont         = 3  // spontaneous
	CauseInit          = 4  // initialized
	CauseReq           = 5  // request or requested
	CauseAct           = 6  // activation
	CauseActCon        = 7  // activation confirmation
	CauseDeact         = 8  // deactivation
	CauseDeactCon      = 9  // deactivation confirmation
	CauseActTerm       = 10 // activation termination
	CauseRetRem        = 11 // return information caused by a remote command
	CauseRetLoc        = 12 // return information caused by a local command
	CauseFile          = 13 // file transfer
	CauseInroGen       = 20 // interrogated by station interrogation (inro1-16: 21-36)
	CauseReqcoGen      = 37 // requested by general counter request (reqco1-4: 38-41)
	CauseUnknownType   = 44
	CauseUnknownCause  = 45
	CauseUnknownCommon = 46
	CauseUnknownIOA    = 47
)

// causeNames are the standard's abbreviations, lower case, as policies
// and logs write them.
var causeNames = [64]string{
	CausePer: "per", CauseBack: "back", CauseSpont: "spont", CauseInit: "init", CauseReq: "req",
	CauseAct: "act", CauseActCon: "actcon", CauseDeact: "deact", CauseDeactCon: "deactcon",
	CauseActTerm: "actterm", CauseRetRem: "retrem", CauseRetLoc: "retloc", CauseFile: "file",
	14: "auth", 15: "seskey", 16: "usrkey",
	CauseInroGen: "inrogen", 21: "inro1", 22: "inro2", 23: "inro3", 24: "inro4", 25: "inro5", 26: "inro6",
	27: "inro7", 28: "inro8", 29: "inro9", 30: "inro10", 31: "inro11", 32: "inro12",
	33: "inro13", 34: "inro14", 35: "inro15", 36: "inro16",
	CauseReqcoGen: "reqcogen", 38: "reqco1", 39: "reqco2", 40: "reqco3", 41: "reqco4",
	CauseUnknownType: "unknown_type", CauseUnknownCause: "unknown_cause",
	CauseUnknownCommon: "unknown_common_address", CauseUnknownIOA: "unknown_ioa",
}

// causeAliases are the spellings Wireshark shows ("Per/Cyc", "UkTypeId"),
// so a name copied from a capture works too.
var causeAliases = [...]struct {
	name  string
	cause uint8
}{
	{"per/cyc", CausePer}, {"cyc", CausePer},
	{"uktypeid", CauseUnknownType}, {"ukcausetx", CauseUnknownCause},
	{"ukcomadrasdu", CauseUnknownCommon}, {"ukioa", CauseUnknownIOA},
}

// CauseName returns the abbreviation of a cause of transmission ("act"),
// or "" for a reserved or private one. Bits above the cause's six are
// ignored.
func CauseName(c uint8) string { return causeNames[c&0x3f] }

// CauseCode returns the cause of a name, matched without regard to case;
// Wireshark's spellings are accepted too.
func CauseCode(name string) (uint8, bool) {
	if name == "" {
		return 0, false
	}
	for c, n := range causeNames {
		if strings.EqualFold(n, name) {
			return uint8(c), true
		}
	}
	for _, a := range causeAliases {
		if strings.EqualFold(a.name, name) {
			return a.cause, true
		}
	}
	return 0, false
}

// CauseNames lists the cause abbreviations, sorted.
func CauseNames() []string { return vocab.Names(causeNames[:]) }

// ElementSize returns the octets of one information element of a type
// (the object without its address) and whether the standard fixes it.
func ElementSize(t uint8) (int, bool) { return int(types[t].elem), types[t].fixed }
