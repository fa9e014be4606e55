package packet

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/internal/pcaptest"
)

// captureDir returns the real-capture directory, or "" when it is absent.
func captureDir() string {
	dir, ok := pcaptest.Lookup()
	if !ok {
		return ""
	}
	return dir
}

// capturePackets reads every capture under dir/*/ and returns the IP
// packets of each, keyed by path relative to dir.
func capturePackets(tb testing.TB, dir string) map[string][][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][][]byte)
	for _, path := range paths {
		r, err := capture.Open(path)
		if errors.Is(err, capture.ErrFormat) {
			continue // a README or other non-capture file
		}
		if err != nil {
			tb.Fatal(err)
		}
		pkts := [][]byte{}
		var p capture.Packet
		for err = r.Next(&p); err == nil; err = r.Next(&p) {
			pkts = append(pkts, bytes.Clone(p.Data)) // Data is reused by Next
		}
		r.Close()
		if err != io.EOF {
			tb.Fatalf("%s: %v", path, err)
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = pkts
	}
	return out
}

// capCounts are per-capture totals. The expected values were derived
// independently with tshark 4.0 (display filters ip, tcp, udp,
// tcp.port==502, tcp.flags.*; sums of ip.len, tcp.len, udp.length-8,
// tcp.seq_raw, and tcp.ack_raw where the ACK flag is set), excluding from
// the L4 figures the packets whose IPv4 total length exceeds the frame.
type capCounts struct {
	ip, tcp, udp, port502 int
	syn, fin, rst         int    // SYN counts SYN without ACK
	ipLen                 int    // sum of Length, malformed packets included
	tcpData, udpData      int    // sum of len(Payload)
	seqSum, ackSum        uint64 // ackSum over packets with ACK set
	malformed             map[Reason]int
}

var captureWant = map[string]capCounts{
	"dnp3/cold_restart_and_response.pcap":                {ip: 10, tcp: 10, syn: 1, fin: 2, ipLen: 456, tcpData: 32, seqSum: 17859641527, ackSum: 14010391709},
	"dnp3/direct_operate_crob_malform_but_good_crc.pcap": {ip: 1, tcp: 1, ipLen: 75, tcpData: 35, seqSum: 4002742915, ackSum: 3884320748},
	"dnp3/directoperate_and_response.pcap":               {ip: 10, tcp: 10, syn: 1, fin: 2, ipLen: 496, tcpData: 72, seqSum: 25525819519, ackSum: 20813195273},
	"dnp3/dnp3.pcap":                                     {ip: 214, tcp: 214, syn: 8, fin: 4, ipLen: 11860, tcpData: 3172, seqSum: 411977356967, ackSum: 422776470798},
	"dnp3/dnp3_file_read.pcap":                           {ip: 30, tcp: 30, syn: 1, fin: 2, ipLen: 2529, tcpData: 1305, seqSum: 72187124455, ackSum: 74727410244},
	"dnp3/dnp3_link_only.pcap":                           {ip: 35, tcp: 35, ipLen: 5809, tcpData: 4409, seqSum: 27752177819, ackSum: 24535534556},
	"dnp3/dnp3_read.pcap":                                {ip: 10, tcp: 10, syn: 1, fin: 2, ipLen: 586, tcpData: 162, seqSum: 24128989788, ackSum: 22550951104},
	"dnp3/dnp3_select_operate.pcap":                      {ip: 13, tcp: 13, syn: 1, fin: 2, ipLen: 688, tcpData: 144, seqSum: 27871088824, ackSum: 23120508975},
	"dnp3/dnp3_write.pcap":                               {ip: 10, tcp: 10, syn: 1, fin: 2, ipLen: 466, tcpData: 42, seqSum: 32609885068, ackSum: 29916436639},
	"enip/cip-multiple-1.pcap":                           {ip: 1, tcp: 1, ipLen: 250, tcpData: 210, seqSum: 3486464847, ackSum: 2381756312},
	"enip/cip_start_plc.pcap":                            {ip: 1, tcp: 1, ipLen: 92, tcpData: 52, seqSum: 204705901, ackSum: 804499403},
	"enip/cip_stop_plc.pcap":                             {ip: 1, tcp: 1, ipLen: 92, tcpData: 52, seqSum: 204708992, ackSum: 804503732},
	"enip/cip_unlock_cpu.pcap":                           {ip: 1, tcp: 1, ipLen: 96, tcpData: 56, seqSum: 3782023025, ackSum: 2120776422},
	"enip/enip_test.pcap":                                {ip: 11, tcp: 11, syn: 2, fin: 1, rst: 1, ipLen: 571, tcpData: 99, seqSum: 26272140312, ackSum: 20617881017},
	"modbus/fuzz-72.pcap": {ip: 36, tcp: 33, port502: 33, ipLen: 36881, tcpData: 327, seqSum: 110527771202, ackSum: 92231260052,
		malformed: map[Reason]int{ReasonIPv4TotalLength: 2, ReasonBadTCPFlags: 1}}, // frame 11 has PSH alone
	"modbus/modbusSmall.pcap":                 {ip: 166, tcp: 160, udp: 6, port502: 160, syn: 16, fin: 32, ipLen: 9874, tcpData: 384, udpData: 746, seqSum: 338441995688, ackSum: 315434845619},
	"modbus/modbus_test_data_part1.pcap":      {ip: 118, tcp: 118, port502: 118, syn: 5, fin: 11, ipLen: 6269, tcpData: 1469, seqSum: 196475579201, ackSum: 195469120540},
	"modbus/modbus_test_data_part2.pcap":      {ip: 350, tcp: 350, port502: 350, syn: 3, ipLen: 16998, tcpData: 2970, seqSum: 1106403436407, ackSum: 1120264630723},
	"s7/s7comm_downloading_block_db1.pcap":    {ip: 93, tcp: 93, syn: 5, rst: 3, ipLen: 6693, tcpData: 2917, seqSum: 141136331488, ackSum: 72996851395},
	"s7/s7comm_varservice_libnodavedemo.pcap": {ip: 29, tcp: 29, syn: 3, fin: 2, rst: 2, ipLen: 1788, tcpData: 604, seqSum: 6373116186, ackSum: 6372333403},
	"s7/snap7_s300_everything.pcapng":         {ip: 64, tcp: 64, ipLen: 6316, tcpData: 3756, seqSum: 27075745625, ackSum: 27075746841},
	"s7/snap7_s300_stop.pcapng":               {ip: 2, tcp: 2, ipLen: 133, tcpData: 53, seqSum: 2344180108, ackSum: 2344180141},
}

func TestDecodeRealCaptures(t *testing.T) {
	dir := pcaptest.Dir(t)
	caps := capturePackets(t, dir)
	names := make([]string, 0, len(caps))
	for name := range caps {
		names = append(names, name)
	}
	sort.Strings(names)
	for name := range captureWant {
		if _, ok := caps[name]; !ok {
			t.Errorf("%s: expected capture is missing from %s", name, dir)
		}
	}
	var p Parsed
	for _, name := range names {
		var got capCounts
		for _, pkt := range caps[name] {
			reason := p.Decode(pkt)
			checkInvariants(t, pkt, &p, reason)
			got.ip++
			got.ipLen += p.Length
			if reason != ReasonOK {
				if got.malformed == nil {
					got.malformed = map[Reason]int{}
				}
				got.malformed[reason]++
				continue
			}
			switch p.Proto {
			case ProtoTCP:
				got.tcp++
				got.tcpData += len(p.Payload)
				got.seqSum += uint64(p.Seq)
				if p.TCPFlags&TCPAck != 0 {
					got.ackSum += uint64(p.Ack)
				}
				if p.TCPFlags&(TCPSyn|TCPAck) == TCPSyn {
					got.syn++
				}
				if p.TCPFlags&TCPFin != 0 {
					got.fin++
				}
				if p.TCPFlags&TCPRst != 0 {
					got.rst++
				}
				if p.SrcPort == 502 || p.DstPort == 502 {
					got.port502++
				}
				if p.PayloadOff+len(p.Payload) != p.Length {
					t.Errorf("%s: TCP payload ends at %d, IP length %d", name, p.PayloadOff+len(p.Payload), p.Length)
				}
			case ProtoUDP:
				got.udp++
				got.udpData += len(p.Payload)
			}
		}
		want, ok := captureWant[name]
		if !ok {
			t.Logf("%s: no expected counts; decoded %+v", name, got)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
}
