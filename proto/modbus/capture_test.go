package modbus

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// captureWant gives, per capture, the outcome of every ADU in the TCP
// payloads to or from port 502, each payload parsed on its own from its
// first byte (no stream reassembly: that is the stream layer's job).
//
// Lines read "dir what count". what is a list of function codes and
// ranges ("1,3,25-30": count for each code), optionally with an exception
// code ("1!2"); or an error, alone ("bad-length") or with the function
// codes of the ADUs it was found in ("bad-pdu:6,11"). "short" is a
// payload ending inside an ADU.
//
// The function and exception codes were taken with tshark 4.0
// (-o tcp.desegment_tcp_streams:FALSE -e modbus.func_code -e
// modbus.exception_code -e mbtcp.prot_id -e mbtcp.len, frames whose IPv4
// length exceeds the frame left out as pcaptest does); the malformed ADUs,
// which tshark mostly accepts, were classified by hand from the payload
// bytes against the specification, frame by frame in the comments.
var captureWant = map[string]string{
	"modbusSmall.pcap": `
		req 1,15 8
		rsp 1,15 8`,

	"modbus_test_data_part1.pcap": `
		req 1 2
		req 3 1
		req 5 2
		req 6 1
		req 8 8
		req 17 2
		rsp 1 2
		rsp 3 1
		rsp 5 2
		rsp 6 1
		rsp 8 4
		rsp 8!11 4
		rsp 17 2
		rsp 42 2
		# frames 32, 34: device identification request 2b 0e 03 01 plus a stray 00
		req bad-pdu:43 2
		# frames 76, 78: MBAP length 0x8804
		req bad-length 2
		# frames 80, 82: protocol id 0x0010
		req bad-protocol-id 2
		# frames 91-109: exception 81 06 / 81 05 followed by a stray 00
		rsp bad-pdu:1 10
		# frames 111, 113: 3 bytes after a function 42 ADU
		rsp short 2`,

	// A sweep of every function code with all-zero request data.
	"modbus_test_data_part2.pcap": `
		req 1 13
		req 5,7,8,9,10,13,14,18,19,25-127 1
		# frame 6: function 0
		req bad-function:0 1
		# frames 11-18, 45, 47: quantity 0
		req bad-quantity:1,2,3,4,15,16 1
		# zero-filled data of the wrong length for the function (frame 22:
		# function 6 with 6 data bytes; 35-66: 4 data bytes for 11, 12, 17,
		# 20-24, whose requests take 0, a byte count, 6, 9 or 2 bytes)
		req bad-pdu:6,11,12,17,20,21,22,23,24 1
		rsp 1 4
		rsp 5,7,8,40,42,125 1
		rsp 1!2 8
		rsp 1!3 1
		rsp 2,3,4,6,11-17,20-24,126!3 1
		rsp 9,10,18,19,25-39,41,43-124,127!1 1
		# exception 80 01: exception of function 0
		rsp bad-function:0 1`,

	// Fuzzed traffic; frames 1 and 20 have an IPv4 length beyond the frame
	// and are not read.
	"fuzz-72.pcap": `
		req 29,33,34,35,36,37,43,46,47,52,53,54,63,64,65,70 1
		req 71 2
		rsp 28,32,47,51,54,58,59,66!1 1
		# frame 6: a 2-byte tail after an ADU of length 4; frame 14: MBAP
		# length 0x25 in a 12-byte payload
		req short 2
		# frame 35: all 0xaa
		req bad-protocol-id 1
		# frames 8, 12, 34: protocol ids 0x0200, 0x0041, 0x0008
		rsp bad-protocol-id 3`,
}

// codes expands one captureWant "what": a list of function codes and
// ranges, optionally with an exception code, or an error with the codes
// of the ADUs it was found in, or an error alone.
func codes(what string) ([]string, error) {
	list, suffix := "", ""
	switch {
	case what[0] >= '0' && what[0] <= '9':
		list, what = what, ""
		if i := strings.IndexByte(list, '!'); i >= 0 {
			list, suffix = list[:i], list[i:]
		}
	case strings.Contains(what, ":"):
		what, list, _ = strings.Cut(what, ":")
		what += ":"
	default:
		return []string{what}, nil
	}
	var out []string
	for _, r := range strings.Split(list, ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !found {
			b, err2 = a, nil
		}
		if err1 != nil || err2 != nil || b < a {
			return nil, fmt.Errorf("bad range %q", r)
		}
		for c := a; c <= b; c++ {
			out = append(out, fmt.Sprintf("%s%d%s", what, c, suffix))
		}
	}
	return out, nil
}

// outcomeKey names one Parse outcome in the captureWant vocabulary.
func outcomeKey(dir pdu.Dir, p *PDU, n int, err pdu.Error) string {
	d := parsetest.Side(dir == pdu.Request)
	switch {
	case err == pdu.OK && p.Exception:
		return fmt.Sprintf("%s %d!%d", d, p.Function, p.ExceptionCode)
	case err == pdu.OK:
		return fmt.Sprintf("%s %d", d, p.Function)
	case n > 0:
		return fmt.Sprintf("%s %s:%d", d, err, p.Function)
	}
	return fmt.Sprintf("%s %s", d, err)
}

// parsePayload runs Parse over one payload until it ends or fails.
func parsePayload(b []byte, dir pdu.Dir, count func(string)) {
	var p PDU
	for len(b) > 0 {
		n, err := Parse(b, dir, &p)
		count(outcomeKey(dir, &p, n, err))
		if err != pdu.OK {
			return
		}
		b = b[n:]
	}
}

func TestCaptures(t *testing.T) {
	want := func(tb testing.TB, spec string) map[string]int { return pcaptest.CountsFunc(tb, spec, codes) }
	parsetest.Captures(t, "modbus", Port, captureWant, want, func(_ *testing.T, s pcaptest.Segment, req bool, count func(string)) {
		if s.Proto == pcaptest.TCP {
			parsePayload(s.Payload, pdu.DirOf(!req), count)
		}
	})
}
