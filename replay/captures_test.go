package replay

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
)

func realCapture(t testing.TB, rel string) string {
	path := filepath.Join(pcaptest.Dir(t), filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v", rel, err)
	}
	return path
}

// realCaptures were counted with tshark 4.0: ip = frames matching
// "ip or ipv6"; flows = distinct tcp.stream plus udp.stream values;
// malformed = frames whose ip.len exceeds the frame (fuzz-72 frames 1 and
// 20) and fuzz-72 frame 11, whose TCP flags are PSH alone (tcp.flags ==
// 0x008), which the decoder refuses.
var realCaptures = []struct {
	rel                  string
	ip, flows, malformed uint64
}{
	{"dnp3/cold_restart_and_response.pcap", 10, 1, 0},
	{"dnp3/direct_operate_crob_malform_but_good_crc.pcap", 1, 1, 0},
	{"dnp3/directoperate_and_response.pcap", 10, 1, 0},
	{"dnp3/dnp3.pcap", 214, 9, 0},
	{"dnp3/dnp3_file_read.pcap", 30, 1, 0},
	{"dnp3/dnp3_link_only.pcap", 35, 1, 0},
	{"dnp3/dnp3_read.pcap", 10, 1, 0},
	{"dnp3/dnp3_select_operate.pcap", 13, 1, 0},
	{"dnp3/dnp3_write.pcap", 10, 1, 0},
	{"enip/cip-multiple-1.pcap", 1, 1, 0},
	{"enip/cip_start_plc.pcap", 1, 1, 0},
	{"enip/cip_stop_plc.pcap", 1, 1, 0},
	{"enip/cip_unlock_cpu.pcap", 1, 1, 0},
	{"enip/enip_test.pcap", 11, 2, 0},
	{"modbus/fuzz-72.pcap", 36, 1, 3},
	{"modbus/modbusSmall.pcap", 166, 19, 0},
	{"modbus/modbus_test_data_part1.pcap", 118, 6, 0},
	{"modbus/modbus_test_data_part2.pcap", 350, 1, 0},
	{"s7/s7comm_downloading_block_db1.pcap", 93, 4, 0},
	{"s7/s7comm_varservice_libnodavedemo.pcap", 29, 2, 0},
	{"s7/snap7_s300_everything.pcapng", 64, 1, 0},
	{"s7/snap7_s300_stop.pcapng", 2, 1, 0},
}

// noRule matches none of the captures' traffic: everything meets the
// default rule.
const noRule = `mode: %s
zones:
  lab: {level: 2, cidrs: [172.31.255.0/24]}
rules:
  - {name: nothing, from: lab, to: lab, proto: udp, dport: 9}
default: deny
`

func noRulePolicy(mode string) string { return fmt.Sprintf(noRule, mode) }

// TestRealCapturesMonitor replays each real capture in monitor mode under a
// policy that allows nothing: every flow is tracked and meets the default.
func TestRealCapturesMonitor(t *testing.T) {
	dir := pcaptest.Dir(t)
	p := policy(t, noRulePolicy("monitor"))
	for _, c := range realCaptures {
		path := filepath.Join(dir, filepath.FromSlash(c.rel))
		if _, err := os.Stat(path); err != nil {
			t.Logf("%s absent: skipped", c.rel)
			continue
		}
		res, lines, errs := run(t, p, path)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", c.rel, errs)
		}
		def := res.Rules[1]
		if res.Packets != c.ip || res.Flows != c.flows || res.Malformed != c.malformed ||
			res.Verdicts.Accept != c.ip || res.WouldDrop != c.ip || def.Packets != c.ip-c.malformed || def.Flows != c.flows {
			t.Errorf("%s: %+v (default %+v); want %d packets, %d flows, %d malformed", c.rel, res, def, c.ip, c.flows, c.malformed)
		}
		// One verdict line per flow and per malformed packet source.
		if v := countEvents(lines, "verdict"); uint64(v) < c.flows {
			t.Errorf("%s: %d verdict lines for %d flows", c.rel, v, c.flows)
		}
	}
}

func countEvents(lines []map[string]any, event string) int {
	n := 0
	for _, l := range lines {
		if l["event"] == event {
			n++
		}
	}
	return n
}

// TestRealCapturesTogether replays every real capture through one engine,
// as `conduit replay -c p.yaml captures/*/*` does. 73,934 is the sum over
// IP frames of min(ip.len, frame length - 14) (tshark); the three malformed
// frames of fuzz-72 carry 46, 52 and 52 (frame 11, PSH alone) of those
// bytes and meet no rule.
func TestRealCapturesTogether(t *testing.T) {
	dir := pcaptest.Dir(t)
	var paths []string
	var ip, malformed uint64
	for _, c := range realCaptures {
		paths = append(paths, filepath.Join(dir, filepath.FromSlash(c.rel)))
		ip += c.ip
		malformed += c.malformed
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s absent", p)
		}
	}
	for _, mode := range []string{"passthrough", "monitor", "enforce"} {
		res, _, errs := run(t, policy(t, noRulePolicy(mode)), paths...)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		def := res.Rules[1]
		if res.Packets != 1206 || ip != 1206 || res.Malformed != malformed || len(res.Captures) != len(paths) {
			t.Errorf("%s: %+v", mode, res)
		}
		switch mode {
		case "passthrough":
			if res.Verdicts.Accept != 1206 || res.WouldDrop != 0 || def.Packets != 0 {
				t.Errorf("passthrough: %+v", res)
			}
		case "monitor":
			if res.Verdicts.Accept != 1206 || res.WouldDrop != 1206 || def.Packets != 1203 || def.Bytes != 73934-98-52 {
				t.Errorf("monitor: %+v default %+v", res, def)
			}
		case "enforce":
			// Nothing allowed, nothing tracked; malformed packets are dropped too.
			if res.Verdicts.Drop != 1206 || res.Flows != 0 || def.Packets != 1203 || def.Bytes != 73934-98-52 {
				t.Errorf("enforce: %+v default %+v", res, def)
			}
		}
	}
}

// TestRealCapturesPolicies replays real captures with policies written for
// them. The expected figures come from tshark 4.0, as noted per case:
// allowed packets and bytes are the frames and the sum of ip.len under the
// rule's filter; the default rule's packets and bytes are the rest. In
// enforce, denied flows are not tracked and a denied flow is counted once
// per 10 s per direction (the engine's log limiter); in awk over
// "frame.time_epoch ip.src ip.dst tcp.srcport tcp.dstport" of the denied
// frames: a key counts when unseen or 10 s after it last counted.
func TestRealCapturesPolicies(t *testing.T) {
	cases := []struct {
		name, rel, policy string
		packets, flows    uint64
		accept, drop      uint64
		wouldDrop         uint64
		rules             map[string]ruleWant
	}{
		{
			// Allowed: ip.addr==10.0.0.57 && ip.addr==10.0.0.3 && tcp.port==502,
			// two conversations (client ports 2578 and 2387).
			name: "modbus enforce one pair", rel: "modbus/modbus_test_data_part1.pcap",
			policy: `mode: enforce
zones:
  hmi:  {level: 2, cidrs: [10.0.0.57/32]}
  plcs: {level: 1, cidrs: [10.0.0.0/24]}
rules:
  - {name: hmi-to-plc3, from: 10.0.0.57, to: 10.0.0.3, proto: tcp, dport: 502}
default: deny
`,
			packets: 118, flows: 2, accept: 36, drop: 82, wouldDrop: 82,
			rules: map[string]ruleWant{"hmi-to-plc3": {36, 1706, 2, -1, -1}, "default": {82, 4563, 34, -1, -1}},
		},
		{
			// Allowed: ip.addr==10.0.0.8 && ip.addr==10.0.0.3 && tcp.port==20000,
			// 6 streams; 2 packets have tcp.time_delta >= 60 s, so with
			// idle_timeout 60s those flows expire and are picked up again: 8.
			// The rest (10.0.0.9's 2 streams, 192.168.66.33's 1) is denied
			// and, in monitor, tracked once per flow.
			name: "dnp3 monitor short timeout", rel: "dnp3/dnp3.pcap",
			policy: `mode: monitor
zones:
  scada: {level: 2, cidrs: [10.0.0.8/31]}
  rtus:  {level: 1, cidrs: [10.0.0.0/24]}
rules:
  - {name: master-polls-rtu, from: 10.0.0.8, to: 10.0.0.3, proto: tcp, dport: 20000, idle_timeout: 60s}
default: deny
`,
			packets: 214, flows: 11, accept: 214, drop: 0, wouldDrop: 91,
			rules: map[string]ruleWant{"master-polls-rtu": {123, 6972, 8, -1, -1}, "default": {91, 4888, 3, -1, -1}},
		},
		{
			// Allowed: ip.src==192.168.1.10 && tcp.dstport==102 || ip.dst==192.168.1.10
			// && tcp.srcport==102, 3 streams. Denied: the PLC's two SYNs to the
			// workstation's port 102, 6 s apart in one 10 s window.
			name: "s7 enforce workstation to PLC", rel: "s7/s7comm_downloading_block_db1.pcap",
			policy: `mode: enforce
zones:
  engineering: {level: 2, cidrs: [192.168.1.10/32]}
  control:     {level: 1, cidrs: [192.168.1.0/24]}
rules:
  - {name: ews-programs-plc, from: engineering, to: control, proto: tcp, dport: 102}
default: deny
`,
			packets: 93, flows: 3, accept: 91, drop: 2, wouldDrop: 2,
			rules: map[string]ruleWant{"ews-programs-plc": {91, 6605, 3, -1, -1}, "default": {2, 88, 1, -1, -1}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := realCapture(t, tc.rel)
			res, _, errs := run(t, policy(t, tc.policy), path)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if res.Packets != tc.packets || res.Flows != tc.flows || res.Verdicts.Accept != tc.accept ||
				res.Verdicts.Drop != tc.drop || res.WouldDrop != tc.wouldDrop || res.Malformed != 0 {
				t.Errorf("summary %+v", res)
			}
			checkRules(t, res, tc.rules)
		})
	}
}
