package dnp3

import (
	"fmt"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// captureWant gives, per capture, the outcome of every link frame in the
// TCP payloads to ("req") or from ("rsp") port 20000, each payload parsed
// on its own from its first byte, as "dir key count" lines:
//
//	req 1            a FIR segment of function 1 (read) parsed without error
//	req obj 60:2     an object header of those requests, group 60 variation 2
//	rsp cont         a segment without FIR (continuation of a fragment)
//	req link 11      a link-only frame of link function 11
//	req bad-start    an error before the frame could be framed
//	req bad-object:18  an error in a framed frame, with its function
//
// Every request's object list must be complete (ObjectsComplete).
//
// Functions, link functions and objects were taken with tshark 4.0
// (-o tcp.desegment_tcp_streams:FALSE -e dnp3.ctl.prm -e dnp3.ctl.prifunc
// -e dnp3.ctl.secfunc -e dnp3.tr.fir -e dnp3.al.func -e dnp3.al.obj -e
// dnp3.len); tshark names a FIR-without-FIN response segment's function
// only after reassembly, so those (dnp3_file_read frame 9, dnp3_link_only
// 9 and 22) were read by hand: application control then 0x81. The
// malformed frames, which tshark accepts, were classified by hand from the
// payload bytes, as the comments say.
var captureWant = map[string]string{
	"cold_restart_and_response.pcap": `
		req 13 1
		rsp 129 1`,

	// Direct operate, g12v1 with qualifier 0x28 and a count of 2, but
	// only one 11-byte CROB (index 1) before the end: CRCs good.
	"direct_operate_crob_malform_but_good_crc.pcap": `
		req bad-object:5 1`,

	"directoperate_and_response.pcap": `
		req 5 1
		req obj 12:1 1
		rsp 129 1`,

	"dnp3.pcap": `
		req 0 13
		req 1 9
		req 2 6
		req 3 5
		req 13 2
		req 14 2
		req 20 3
		req 21 5
		req obj 2:0 1
		req obj 12:1 5
		req obj 50:1 4
		req obj 60:1 2
		req obj 60:2 11
		req obj 60:3 11
		req obj 60:4 11
		req obj 80:1 2
		req obj 255:0 5
		# frames 19, 21: 05 05 where 05 64 starts a frame
		req bad-start 2
		# frames 163, 166, 174, 176: stop application with 60:2 all, 1:7 all,
		# then 3c 04 ed: qualifier 0xed sets the reserved bit 7 and range code 0xd
		req bad-object:18 4
		# frames 154, 156: disable unsolicited 60:2, 60:3 all, then the same
		# 3c 04 ed
		req bad-object:21 2
		rsp 129 34
		rsp 130 30`,

	// Open, read (FIR, two continuations, FIN), close a file.
	"dnp3_file_read.pcap": `
		req 0 1
		req 1 1
		req 2 2
		req 25 1
		req 26 1
		req obj 50:1 2
		req obj 70:3 1
		req obj 70:4 1
		req obj 70:5 1
		rsp 129 5
		rsp cont 3`,

	// Link status polling both ways, and a class 0 read whose response
	// spans two fragments of 9 and 7 segments.
	"dnp3_link_only.pcap": `
		req link 11 3
		req 1 1
		req obj 60:1 1
		rsp link 9 3
		rsp 129 2
		rsp cont 14`,

	"dnp3_read.pcap": `
		req 1 1
		req obj 60:1,60:2,60:3,60:4 1
		rsp 129 1`,

	"dnp3_select_operate.pcap": `
		req 3,4 1
		req obj 12:1 2
		rsp 129 2`,

	"dnp3_write.pcap": `
		req 2 1
		req obj 50:1 1
		rsp 129 1`,
}

// parsePayload runs Parse over one payload until it ends or fails.
func parsePayload(t *testing.T, b []byte, dir string, count func(string)) {
	var f Frame
	for len(b) > 0 {
		n, err := Parse(b, &f)
		switch {
		case err != pdu.OK && n == 0:
			count(fmt.Sprintf("%s %s", dir, err))
		case err != pdu.OK:
			count(fmt.Sprintf("%s %s:%d", dir, err, f.App.Function))
		case f.LinkOnly:
			count(fmt.Sprintf("%s link %d", dir, f.LinkFunction))
		case !f.HasApp:
			count(dir + " cont")
		default:
			count(fmt.Sprintf("%s %d", dir, f.App.Function))
			if IsResponse(f.App.Function) {
				break
			}
			if !f.App.ObjectsComplete {
				t.Errorf("%s function %d: object list incomplete", dir, f.App.Function)
			}
			for _, o := range f.App.Objects[:f.App.NumObjects] {
				count(fmt.Sprintf("%s obj %d:%d", dir, o.Group, o.Variation))
			}
		}
		if err != pdu.OK {
			return
		}
		b = b[n:]
	}
}

func TestCaptures(t *testing.T) {
	parsetest.Captures(t, "dnp3", Port, captureWant, pcaptest.Counts, func(t *testing.T, s pcaptest.Segment, req bool, count func(string)) {
		parsePayload(t, s.Payload, parsetest.Side(req), count)
	})
}
