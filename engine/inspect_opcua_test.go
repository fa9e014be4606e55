package engine

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

// OPC UA inspection: the captures replayed through the engine, the
// secure channel's security judged at its OPN (or its first MSG), chunks
// and chunks larger than the stream buffer, encrypted channels.

// opcuaSession opens a UA TCP connection HMI -> PLC:4840 (HEL, ACK) and
// a secure channel under policy (OPN both ways).
func opcuaSession(t *testing.T, te *testEngine, policy string, mode opcua.Mode) *session {
	t.Helper()
	s := newSessionTo(t, te, 4840)
	for _, step := range []struct {
		req  bool
		data []byte
	}{
		{true, opcuatest.Hello("opc.tcp://plc:4840")}, {false, opcuatest.Ack()},
		{true, opcuatest.OpenRequest(policy, mode, 1, 1)}, {false, opcuatest.OpenResponse(policy, 9, 14, 1, 1)},
	} {
		v := s.rsp
		if step.req {
			v = s.req
		}
		if !v(step.data).Accept {
			t.Fatalf("%s handshake refused: %+v", policy, te.appLines())
		}
	}
	return s
}

var ch9 = opcuatest.Chan{ID: 9, Token: 14}

const opcuaHMI = `    opcua: {services: [create_session, activate_session, read, browse]}`

func TestInspectOPCUAServices(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "4840", opcuaHMI)
	s := opcuaSession(t, te, "None", opcua.ModeNone)
	for i, svc := range []opcua.Service{opcua.CreateSession, opcua.ActivateSession, opcua.Read, opcua.Browse} {
		if !s.req(ch9.Request(svc, uint32(2+i), uint32(2+i), make([]byte, 20))).Accept {
			t.Fatalf("%v refused: %+v", svc, te.appLines())
		}
		if !s.rsp(ch9.Response(svc, uint32(2+i), uint32(2+i), 0, nil)).Accept {
			t.Fatalf("%v response refused", svc)
		}
	}
	if v := s.req(ch9.Request(opcua.Write, 6, 6, make([]byte, 20))); v.Accept {
		t.Fatal("write passed")
	}
	lines := te.appLines()
	if len(lines) != 1 || lines[0].reason != ReasonViolation || appFunctionName(&lines[0].app) != "write" ||
		appInt(&lines[0].app, "request_id") != 6 || appString(&lines[0].app, "security_mode") != "none" ||
		appString(&lines[0].app, "security_policy") != "None" ||
		appString(&lines[0].app, "violates") != "services" {
		t.Errorf("lines %+v", lineSummaries(lines))
	}
	if got := te.requests("hmi-reads"); got != 4 {
		t.Errorf("%d requests counted, want 4", got)
	}
	// A service fault answering a request is logged as a notice.
	if !s.rsp(ch9.Response(opcua.ServiceFault, 7, 5, 0x800d0000, nil)).Accept {
		t.Fatal("service fault refused")
	}
	if lines := te.appLines(); len(lines) != 1 || lines[0].reason != ReasonException || appString(&lines[0].app, "status") != "0x800d0000" {
		t.Errorf("fault lines %+v", lineSummaries(lines))
	}
}

// appString is a string field of an app event's log line.
func appString(a *appEvent, key string) string {
	for _, at := range a.attr().Value.Group() {
		if at.Key == key {
			return at.Value.String()
		}
	}
	return ""
}

// TestInspectOPCUASecurity: security_modes and security_policies are
// judged at the OPN; under a policy other than None the mode only the
// first MSG tells is judged there.
func TestInspectOPCUASecurity(t *testing.T) {
	enc := func(chunk byte) []byte { return ch9.Encrypted(chunk, 96) }
	clear := ch9.Request(opcua.CreateSession, 2, 2, make([]byte, 20))
	for _, tc := range []struct {
		name, cond, policy string
		mode               opcua.Mode
		first              []byte // the first MSG
		openOK, firstOK    bool
		violates           string
	}{
		{"none refused by modes", "security_modes: [sign_and_encrypt]", "None", opcua.ModeNone, clear, false, false, "security_modes"},
		{"none allowed", "security_modes: [none, sign]", "None", opcua.ModeNone, clear, true, true, ""},
		{"none refused by policies", "security_policies: [Basic256Sha256]", "None", opcua.ModeNone, clear, false, false, "security_policies"},
		{"policy allowed", "security_policies: [Basic256Sha256]", "Basic256Sha256", opcua.ModeSign, clear, true, true, ""},
		{"full uri", "security_policies: [\"http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep\"]", "Aes128_Sha256_RsaOaep", opcua.ModeSign, clear, true, true, ""},
		{"other policy refused", "security_policies: [Aes256_Sha256_RsaPss]", "Basic256Sha256", opcua.ModeSign, clear, false, false, "security_policies"},
		{"encrypted channel, encrypt required", "security_modes: [sign_and_encrypt]", "Basic256Sha256", opcua.ModeSignAndEncrypt, enc('F'), true, true, ""},
		{"signed channel, encrypt required", "security_modes: [sign_and_encrypt]", "Basic256Sha256", opcua.ModeSign, clear, true, false, "security_modes"},
		{"encrypted channel, sign required", "security_modes: [sign]", "Basic256Sha256", opcua.ModeSignAndEncrypt, enc('F'), true, false, "security_modes"},
		{"secured channel, none required", "security_modes: [none]", "Basic256Sha256", opcua.ModeSign, clear, false, false, "security_modes"},
		{"either secured mode", "security_modes: [sign, sign_and_encrypt]", "Basic256Sha256", opcua.ModeSignAndEncrypt, enc('F'), true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newAppEngine(t, "enforce", "tcp", "4840", "    opcua: {"+tc.cond+"}")
			s := newSessionTo(t, te, 4840)
			if !s.req(opcuatest.Hello("opc.tcp://plc:4840")).Accept || !s.rsp(opcuatest.Ack()).Accept {
				t.Fatal("hello refused")
			}
			if v := s.req(opcuatest.OpenRequest(tc.policy, tc.mode, 1, 1)); v.Accept != tc.openOK {
				t.Fatalf("OPN accept %v, want %v: %v", v.Accept, tc.openOK, lineSummaries(te.appLines()))
			}
			if tc.openOK {
				if !s.rsp(opcuatest.OpenResponse(tc.policy, 9, 14, 1, 1)).Accept {
					t.Fatal("OPN response refused")
				}
				if v := s.req(tc.first); v.Accept != tc.firstOK {
					t.Fatalf("first MSG accept %v, want %v: %v", v.Accept, tc.firstOK, lineSummaries(te.appLines()))
				}
			}
			lines := te.appLines()
			if tc.violates == "" {
				if len(lines) != 0 {
					t.Errorf("lines %v", lineSummaries(lines))
				}
				return
			}
			if len(lines) != 1 || lines[0].reason != ReasonViolation || appString(&lines[0].app, "violates") != tc.violates {
				t.Fatalf("lines %v, want one violation of %s", lineSummaries(lines), tc.violates)
			}
			if tc.openOK { // refused at the first MSG: the mode it told is in the line
				if got := appString(&lines[0].app, "security_mode"); got != map[bool]string{true: "sign", false: "sign_and_encrypt"}[tc.mode == opcua.ModeSign] {
					t.Errorf("security_mode %q", got)
				}
			} else if got := appString(&lines[0].app, "security_policy"); got != tc.policy {
				t.Errorf("security_policy %q, want %q", got, tc.policy)
			}
		})
	}
}

// TestInspectOPCUAEncrypted: on a SignAndEncrypt channel a rule naming
// services cannot judge a request: unparsed-opcua, on_unparsed decides;
// a rule naming none counts them.
func TestInspectOPCUAEncrypted(t *testing.T) {
	for _, tc := range []struct {
		cond, onUnparsed string
		accept           bool
		reason           string
	}{
		{opcuaHMI, "", false, "unparsed-opcua"},
		{opcuaHMI + "\n    on_unparsed: allow", "", true, "unparsed-opcua"},
		{"    opcua: {security_modes: [sign_and_encrypt]}", "", true, ""},
	} {
		te := newAppEngine(t, "enforce", "tcp", "4840", tc.cond)
		s := opcuaSession(t, te, "Basic256Sha256", opcua.ModeSignAndEncrypt)
		v := s.req(ch9.Encrypted('F', 160))
		lines := te.appLines()
		if v.Accept != tc.accept {
			t.Errorf("%s: accept %v, want %v (%v)", tc.cond, v.Accept, tc.accept, lineSummaries(lines))
		}
		if tc.reason == "" {
			if len(lines) != 0 || te.requests("hmi-reads") != 1 {
				t.Errorf("%s: lines %v, %d requests", tc.cond, lineSummaries(lines), te.requests("hmi-reads"))
			}
			continue
		}
		if len(lines) != 1 || lines[0].reason != tc.reason ||
			appString(&lines[0].app, "detail") != "sign-and-encrypt-channel-services-unreadable" ||
			appString(&lines[0].app, "security_mode") != "sign_and_encrypt" {
			t.Errorf("%s: lines %v", tc.cond, lineSummaries(lines))
		}
	}
}

// TestInspectOPCUAChunks: a message's first chunk is judged and its
// verdict stands for the chunks after it; a chunk larger than the stream
// buffer is judged from its first bytes and the rest passed over, so the
// next message is judged where it begins.
func TestInspectOPCUAChunks(t *testing.T) {
	te := newAppEngine(t, "monitor", "tcp", "4840", opcuaHMI)
	s := opcuaSession(t, te, "None", opcua.ModeNone)
	body := func(svc opcua.Service, n int) []byte {
		return append(opcuatest.NodeID(nil, svc.RequestID()), append(opcuatest.RequestHeader(3), make([]byte, n)...)...)
	}
	// A Write in three chunks: one would-drop, for its first chunk.
	for i, c := range []byte{'C', 'C', 'F'} {
		b := []byte{0xee, 0xee, 0xee, 0xee}
		if i == 0 {
			b = body(opcua.Write, 40)
		}
		s.req(ch9.Chunk("MSG", c, uint32(3+i), 3, b))
	}
	lines := te.appLines()
	if len(lines) != 1 || !lines[0].wouldDrop || appFunctionName(&lines[0].app) != "write" {
		t.Fatalf("chunked write: %v", lineSummaries(lines))
	}
	// A 10 KB Read in four segments, then a Read and a Write in one.
	big := ch9.Chunk("MSG", 'F', 6, 4, body(opcua.Read, 10000))
	for i := 0; i < len(big); i += 3000 {
		if !s.req(big[i:min(i+3000, len(big))]).Accept {
			t.Fatal("big read refused")
		}
	}
	// The same whose first segment ends before its type id: kept until
	// the next one shows it, not given up as larger than the buffer.
	big = ch9.Chunk("MSG", 'F', 7, 5, body(opcua.Read, 10000))
	for _, cut := range [][2]int{{0, 20}, {20, 4000}, {4000, len(big)}} {
		if !s.req(big[cut[0]:cut[1]]).Accept {
			t.Fatalf("big read from %d refused: %v", cut[0], lineSummaries(te.appLines()))
		}
	}
	if inspect.PDUMax != 4096 {
		t.Errorf("the engine keeps %d bytes of a PDU; proto/opcua's streamMax says 4096", inspect.PDUMax)
	}
	s.req(cat(ch9.Request(opcua.Read, 8, 6, nil), ch9.Request(opcua.Write, 9, 7, nil)))
	lines = te.appLines()
	if len(lines) != 1 || appFunctionName(&lines[0].app) != "write" || appInt(&lines[0].app, "request_id") != 7 {
		t.Fatalf("after the big reads: %v", lineSummaries(lines))
	}
	if got := te.requests("hmi-reads"); got != 3 {
		t.Errorf("%d requests, want the three reads", got)
	}
	// A chunk of another message inside an open one does not frame.
	s.req(ch9.Chunk("MSG", 'C', 10, 20, body(opcua.Read, 4)))
	s.req(ch9.Chunk("MSG", 'F', 11, 21, []byte{1, 2, 3}))
	if lines := te.appLines(); len(lines) != 1 || lines[0].reason != "malformed-opcua" ||
		appString(&lines[0].app, "error") != "chunk-of-another-message" {
		t.Fatalf("stray chunk: %v", lineSummaries(lines))
	}
	// A first chunk too short to hold its type id cannot be judged.
	s.req(ch9.Chunk("MSG", 'C', 12, 8, []byte{0x01}))
	if lines := te.appLines(); len(lines) != 1 || lines[0].reason != "unparsed-opcua" ||
		appString(&lines[0].app, "detail") != "service-type-split-across-chunks" {
		t.Fatalf("split type: %v", lineSummaries(lines))
	}
}

// TestInspectOPCUAPickup: a flow picked up after its OPN has no judged
// security: a condition on security_modes cannot pass its requests, one on
// services alone judges them.
func TestInspectOPCUAPickup(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "4840", "    opcua: {services: [read], security_modes: [none]}")
	s := newSessionTo(t, te, 4840)
	if s.req(ch9.Request(opcua.Read, 5, 5, nil)).Accept {
		t.Error("read on a channel opened unseen passed a security_modes condition")
	}
	if l := te.appLines(); len(l) != 1 || appString(&l[0].app, "detail") != "secure-channel-opened-before-inspection" {
		t.Errorf("lines %v", lineSummaries(l))
	}
	te = newAppEngine(t, "enforce", "tcp", "4840", "    opcua: {services: [read]}")
	s = newSessionTo(t, te, 4840)
	if !s.req(ch9.Request(opcua.Read, 5, 5, nil)).Accept || s.req(ch9.Request(opcua.Write, 6, 6, nil)).Accept {
		t.Errorf("picked up: %v", lineSummaries(te.appLines()))
	}
}

func TestInspectOPCUANoAllocs(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "4840", opcuaHMI)
	opcuaSession(t, te, "None", opcua.ModeNone).checkNoAllocs(ch9.Request(opcua.Read, 5, 5, make([]byte, 40)),
		ch9.Request(opcua.Write, 5, 5, make([]byte, 40)))
}

// opcuaCaptureWant: per capture, the requests each condition counts when
// the capture is replayed in monitor mode (tshark's counts of the MSG
// requests by service id, as in proto/opcua's capture test, except the
// CreateSessionResponse tshark misses, a response which counts nothing).
// "all" is the empty condition: every MSG request.
var opcuaCaptureWant = []struct {
	file, cond string
	requests   uint64
}{
	{"python_opcua-client-server_minimal.pcap", "{}", 6},
	{"python_opcua-client-server_minimal.pcap", "{services: [translate_browse_paths_to_node_ids]}", 2},
	{"python_opcua-client-server_minimal.pcap", "{services: [create_session, activate_session, browse, close_session]}", 4},
	{"python_opcua-client-server_minimal.pcap", "{services: [read]}", 0},
	{"python_opcua-client-server_minimal-2.pcap", "{}", 7},
	{"python_opcua-client-server_minimal-2.pcap", "{services: [read, 554]}", 3},
	// GetEndpoints on a None channel; CreateSession, ActivateSession and
	// Browse on a Basic256Sha256 channel in mode Sign (readable).
	{"python_opcua-client-server_encrypted.pcap", "{}", 4},
	{"python_opcua-client-server_encrypted.pcap", "{services: [get_endpoints, create_session, activate_session, browse]}", 4},
	{"python_opcua-client-server_encrypted.pcap", "{services: [browse], security_modes: [sign]}", 1},
	{"opcua_with-gap.pcap", "{}", 85},
	{"opcua_with-gap.pcap", "{services: [read]}", 31},
	{"opcua_with-gap.pcap", "{services: [publish]}", 50},
	{"opcua_with-gap.pcap", "{services: [create_subscription, create_monitored_items]}", 2},
}

func TestCaptureOPCUAThroughEngine(t *testing.T) {
	dir := pcaptest.Dir(t)
	for _, tc := range opcuaCaptureWant {
		t.Run(tc.file+"/"+tc.cond, func(t *testing.T) {
			pkts := ipPackets(t, filepath.Join(dir, "opcua", tc.file))
			if got := replayApp(t, pkts, "tcp", "4840", "opcua: "+tc.cond); got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
		})
	}
}

// TestCaptureOPCUAEnforce: the captures in enforce with conditions they
// break. The client's stream stalls at the first refused request: its
// later data segments are gaps.
func TestCaptureOPCUAEnforce(t *testing.T) {
	dir := pcaptest.Dir(t)
	for _, tc := range []struct {
		file, cond string
		lines      map[string]int
	}{
		// Read (frame 35) refused; CloseSession and CLO are gaps.
		{"python_opcua-client-server_minimal-2.pcap",
			"opcua: {services: [create_session, activate_session, browse, translate_browse_paths_to_node_ids, close_session]}",
			map[string]int{"app-violation read services": 1, "stream-gap": 2}},
		// The None channel's OPN; the client's seven MSGs and CLO after it.
		{"python_opcua-client-server_minimal.pcap", "opcua: {security_modes: [sign, sign_and_encrypt]}",
			map[string]int{"app-violation open_secure_channel security_modes": 1, "stream-gap": 7}},
		// The first connection's None OPN (its GetEndpoints and CLO are
		// gaps); the second, Basic256Sha256 in mode Sign, passes.
		{"python_opcua-client-server_encrypted.pcap", "opcua: {security_policies: [Basic256Sha256]}",
			map[string]int{"app-violation open_secure_channel security_policies": 1, "stream-gap": 2}},
		// The Sign channel's first MSG (CreateSession) tells its mode.
		{"python_opcua-client-server_encrypted.pcap", "opcua: {security_modes: [none, sign_and_encrypt]}",
			map[string]int{"app-violation create_session security_modes": 1, "stream-gap": 2}},
	} {
		t.Run(tc.file+"/"+tc.cond, func(t *testing.T) {
			te := newAnyEngine(t, "enforce", "tcp", "4840", tc.cond)
			w := te.Worker(0)
			got := map[string]int{}
			for _, p := range ipPackets(t, filepath.Join(dir, "opcua", tc.file)) {
				w.Decide(p)
				for _, v := range te.verdicts() {
					switch {
					case v.accept:
					case v.reason == ReasonViolation:
						got[v.reason+" "+appFunctionName(&v.app)+" "+appString(&v.app, "violates")]++
					default:
						got[v.reason]++
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.lines) {
				t.Errorf("refused %v, want %v", got, tc.lines)
			}
		})
	}
}
