package iec104_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	. "github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// captureWant gives, per capture, the outcome of every APDU in the TCP
// payloads to ("req": from the controlling station) or from ("rsp") port
// 2404, each payload parsed on its own from its first byte (no stream
// reassembly: that is the stream layer's job).
//
// Lines read "dir what count": "u <function>", "s", "i <type> <cause>",
// or an error. The formats, U functions, type ids and causes were taken
// with tshark 4.0 (-o tcp.desegment_tcp_streams:FALSE, PDML fields
// iec60870_104.type, .utype, iec60870_asdu.typeid, .causetx, the
// direction by tcp.dstport) and agree with it APDU for APDU; the frames
// tshark flags malformed were classified by hand from the payload bytes.
var captureWant = map[string]string{
	// One master (port 1075: the odd port is the master's, the outstation
	// listens on 2404) commanding with and without time tags; the
	// outstation, unusually, sends the TESTFR act.
	"090813_diverse.pcap": `
		req i C_IC_NA_1 act 1
		req i C_SC_NA_1 act 2
		req i C_DC_NA_1 act 2
		req i C_SE_NC_1 act 4
		req i C_SC_TA_1 act 2
		req i C_DC_TA_1 act 4
		req i C_SE_TA_1 act 2
		req i C_SE_TC_1 act 2
		req s 10
		req u testfr_con 2
		rsp i M_SP_NA_1 inrogen 1
		rsp i M_ME_NC_1 per 3
		rsp i M_ME_NC_1 inrogen 1
		rsp i M_ME_NC_1 spont 10
		rsp i M_SP_TB_1 spont 8
		rsp i C_IC_NA_1 actcon 1
		rsp i C_IC_NA_1 actterm 1
		rsp i C_SC_NA_1 actcon 2
		rsp i C_SC_NA_1 actterm 1
		rsp i C_DC_NA_1 actcon 2
		rsp i C_DC_NA_1 actterm 2
		rsp i C_SE_NC_1 actcon 4
		rsp i C_SE_NC_1 actterm 2
		rsp i C_SC_TA_1 actcon 2
		rsp i C_SC_TA_1 actterm 1
		rsp i C_DC_TA_1 actcon 4
		rsp i C_DC_TA_1 actterm 2
		rsp i C_SE_TA_1 actcon 2
		rsp i C_SE_TA_1 actterm 1
		rsp i C_SE_TC_1 actcon 2
		rsp i C_SE_TC_1 actterm 1
		rsp u testfr_act 2`,

	// Wireshark's own dissector test: six connections, the first five
	// with junk octets before, between and across APDUs, the last clean
	// (frames 104-142, several APDUs in one segment at 110, 118, 125, 127,
	// 134, 140).
	"TestDissectIec104.pcap": `
		req u startdt_act 6
		rsp u startdt_con 6
		req u testfr_act 7
		rsp u testfr_con 7
		req i C_IC_NA_1 act 1
		req i C_CS_NA_1 act 1
		req i C_SC_NA_1 act 4
		req i C_DC_NA_1 act 1
		req s 5
		rsp i M_EI_NA_1 init 2
		rsp i M_SP_NA_1 inrogen 1
		rsp i M_DP_NA_1 inrogen 1
		rsp i M_SP_TB_1 spont 1
		rsp i C_IC_NA_1 actcon 1
		rsp i C_IC_NA_1 actterm 1
		rsp i C_CS_NA_1 actcon 1
		rsp i C_SC_NA_1 actcon 3
		rsp i C_DC_NA_1 actcon 1
		rsp s 7
		# frames 7, 9, 11, 16, 18, 23, 25, 36, 41, 56, 58, 71, 73, 75, 83,
		# 94, 96: payloads that start with junk (00, 01 68, 02 02 68 ...) or
		# are the tail of an APDU cut by the previous segment. tshark hunts
		# for the next 0x68 and dissects what follows, reporting I frames
		# of type 24 and 26, an S frame (71) and a U frame 0x05 (36) from
		# these octets, most flagged malformed; a firewall frames from the
		# stream's start and refuses the stream at the first octet that is
		# not 0x68.
		req bad-start 17`,
}

// outcomeKey names one Parse outcome in the captureWant vocabulary.
func outcomeKey(dir string, a *APDU, err pdu.Error) string {
	switch {
	case err != pdu.OK:
		return dir + " " + string(err)
	case a.Format == FormatU:
		return dir + " u " + a.UFunc.String()
	case a.Format == FormatS:
		return dir + " s"
	}
	name, cause := TypeName(a.TypeID), CauseName(a.Cause)
	if name == "" {
		name = strconv.Itoa(int(a.TypeID))
	}
	if cause == "" {
		cause = strconv.Itoa(int(a.Cause))
	}
	return fmt.Sprintf("%s i %s %s", dir, name, cause)
}

func TestCaptures(t *testing.T) {
	parsetest.Captures(t, "iec104", Port, captureWant, pcaptest.Counts, func(_ *testing.T, s pcaptest.Segment, req bool, count func(string)) {
		if s.Proto != pcaptest.TCP {
			return
		}
		var a APDU
		for b := s.Payload; len(b) > 0; {
			n, err := Parse(b, &a)
			count(outcomeKey(parsetest.Side(req), &a, err))
			if err != pdu.OK {
				break
			}
			b = b[n:]
		}
	})
}
