package capture_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/internal/pcaptest"
)

// realWant was derived with tshark 4.0, independently of this reader:
// frames (all records), ip (-Y "ip or ipv6"), first and last
// frame.time_epoch of those, bytes = the sum over IP frames of
// min(ip.len or ipv6.plen+40, frame.cap_len - link header), and truncated
// = frames with frame.cap_len < frame.len.
var realWant = map[string]struct {
	frames, ip  int
	first, last int64
	bytes       int
	truncated   int
}{
	"dnp3/cold_restart_and_response.pcap":                {10, 10, 1422552943631529000, 1422552959456340000, 456, 0},
	"dnp3/direct_operate_crob_malform_but_good_crc.pcap": {1, 1, 1429304372781793000, 1429304372781793000, 75, 0},
	"dnp3/directoperate_and_response.pcap":               {10, 10, 1422551629596202000, 1422551640722327000, 496, 0},
	"dnp3/dnp3.pcap":                                     {214, 214, 1097501938503079000, 1178206046246177000, 11860, 0},
	"dnp3/dnp3_file_read.pcap":                           {30, 30, 1325036010613655000, 1325036025333161000, 2529, 0},
	"dnp3/dnp3_link_only.pcap":                           {35, 35, 1365783471854086000, 1365783483723463000, 5809, 0},
	"dnp3/dnp3_read.pcap":                                {10, 10, 1324327254640641000, 1324327258651387000, 586, 0},
	"dnp3/dnp3_select_operate.pcap":                      {13, 13, 1324501737744759000, 1324501745760316000, 688, 0},
	"dnp3/dnp3_write.pcap":                               {10, 10, 1324502910885120000, 1324502914900028000, 466, 0},
	"enip/cip-multiple-1.pcap":                           {1, 1, 1224804549022338000, 1224804549022338000, 250, 0},
	"enip/cip_start_plc.pcap":                            {1, 1, 1459304596760525000, 1459304596760525000, 92, 0},
	"enip/cip_stop_plc.pcap":                             {1, 1, 1459304600294973000, 1459304600294973000, 92, 0},
	"enip/cip_unlock_cpu.pcap":                           {1, 1, 1231968315776260000, 1231968315776260000, 96, 0},
	"enip/enip_test.pcap":                                {11, 11, 1427823695000000000, 1427823700543195000, 571, 11},
	"modbus/fuzz-72.pcap":                                {36, 36, 1153491909414066000, 1153491933406960000, 1797, 0},
	"modbus/modbusSmall.pcap":                            {166, 166, 1400547199329569000, 1400547255173919000, 9874, 0},
	"modbus/modbus_test_data_part1.pcap":                 {118, 118, 1093521678945447000, 1093523220676663000, 6269, 0},
	"modbus/modbus_test_data_part2.pcap":                 {350, 350, 1153491879610371000, 1153491974091153000, 16998, 0},
	"s7/s7comm_downloading_block_db1.pcap":               {93, 93, 1408528799992327000, 1408528805989465000, 6693, 0},
	"s7/s7comm_varservice_libnodavedemo.pcap":            {31, 29, 1408528975998192000, 1408528981996241000, 1788, 0},
	"s7/snap7_s300_everything.pcapng":                    {64, 64, 1454969289930413000, 1454969290479087000, 6316, 0},
	"s7/snap7_s300_stop.pcapng":                          {2, 2, 1397638799797657000, 1397638799805900000, 133, 0},
}

func TestRealCaptures(t *testing.T) {
	dir := pcaptest.Dir(t)
	seen := 0
	for rel, want := range realWant {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			t.Logf("%s: absent, skipped", rel)
			continue
		}
		seen++
		r, err := capture.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var p capture.Packet
		n, bytes := 0, 0
		var first, last int64
		for {
			err := r.Next(&p)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if n == 0 {
				first = p.Time
			}
			last = p.Time
			n++
			bytes += len(p.Data)
		}
		r.Close()
		st := r.Stats()
		if st.Records != want.frames || n != want.ip || st.Packets != n || first != want.first || last != want.last || bytes != want.bytes || st.Truncated != want.truncated {
			t.Errorf("%s: frames %d ip %d first %d last %d bytes %d truncated %d; want %+v",
				rel, st.Records, n, first, last, bytes, st.Truncated, want)
		}
		// capinfos says every one of them is pcap, whatever its name.
		if r.Format() != capture.FormatPcap {
			t.Errorf("%s: format %v, want pcap", rel, r.Format())
		}
	}
	if seen == 0 {
		t.Skip("none of the known captures is present")
	}
}
