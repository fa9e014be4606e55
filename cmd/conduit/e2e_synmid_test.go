package main

// End-to-end test of the mid-stream SYN bypass: scapy in the HMI's
// namespace does its own TCP to the PLC's real Modbus server (plantpeer
// modbus-plc) through conduit, with a rule that allows reading holding
// registers only. After two reads it sends a bare SYN 8 bytes before the
// server's next expected byte (Linux ignores it and answers with a
// challenge ACK), then one segment 7 bytes before that byte: an MBAP
// header announcing a long PDU, then a whole write_single_register ADU.
// A follower that started its stream over at the SYN reads the 19 bytes
// as one unfinished request and lets them pass; the server trims the 7
// bytes it already has and executes the write.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// synMidPort is the scapy connection's source port, below the ephemeral
// range so that no socket of the test's own clients takes it.
const synMidPort = 31502

// synMidAttacker is the scapy client. Arguments: the PLC's address, the
// source and destination ports. It prints one JSON object per step.
const synMidAttacker = `
import json, queue, random, sys, threading, time
from scapy.all import IP, TCP, Raw, AsyncSniffer, conf
from scapy.supersocket import L3RawSocket

plc, sport, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conf.L3socket = L3RawSocket  # the kernel routes and resolves the PLC's MAC
out = conf.L3socket()
got = queue.Queue()
started = threading.Event()
sn = AsyncSniffer(iface="eth0", store=False, prn=got.put, started_callback=started.set,
                  filter="tcp and src host %s and src port %d and dst port %d" % (plc, dport, sport))
sn.start()
if not started.wait(10):
    sys.exit("the sniffer did not start")

def say(**kw):
    print(json.dumps(kw), flush=True)

def send(flags, seq, ack, data=b"", opts=(), tos=0):
    p = IP(dst=plc, tos=tos)/TCP(sport=sport, dport=dport, flags=flags, seq=seq % 2**32, ack=ack % 2**32, window=65535, options=list(opts))
    if data:
        p = p/Raw(data)
    out.send(p)

def wait(match, timeout=10):
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        try:
            p = got.get(timeout=left)
        except queue.Empty:
            return None
        if match(p[TCP]):
            return p[TCP]

def adu(tid, fc, addr, v):
    return bytes([tid >> 8, tid & 255, 0, 0, 0, 6, 1, fc, addr >> 8, addr & 255, v >> 8, v & 255])

isn = random.randrange(2**32)
send("S", isn, 0, opts=[("MSS", 1460)])
sa = wait(lambda t: t.flags.S and t.flags.A and t.ack == (isn + 1) % 2**32)
if sa is None:
    sys.exit("no SYN-ACK")
snd, rcv = isn + 1, sa.seq + 1
send("A", snd, rcv)
say(step="handshake")

# Two legit reads of holding registers 0-9; register n holds n.
for tid in (1, 2):
    send("PA", snd, rcv, adu(tid, 3, 0, 10))
    snd += 12
    resp = b""
    while len(resp) < 29:
        t = wait(lambda t: len(t.payload) > 0 and t.seq == rcv % 2**32)
        if t is None:
            break
        resp += bytes(t.payload)
        rcv += len(t.payload)
        send("A", snd, rcv)
    say(step="read", tid=tid, ok=len(resp) == 29 and resp[7] == 3 and resp[9 + 2 * 7:9 + 2 * 8] == bytes([0, 7]), resp=resp.hex())

# The bare SYN: seq + 1 is 7 bytes before the server's next byte.
send("S", snd - 8, 0)
ca = wait(lambda t: t.flags.A and not t.flags.S and len(t.payload) == 0 and t.ack == snd % 2**32, timeout=5)
say(step="syn", challenge_ack=ca is not None)

# 7 bytes the server already has, read as a header announcing a 29-byte
# PDU, then the write of 4242 to register 100.
send("PA", snd - 7, rcv, bytes([0, 2, 0, 0, 0, 30, 1]) + adu(3, 6, 100, 4242))
w = wait(lambda t: len(t.payload) >= 8 and bytes(t.payload)[7] == 6, timeout=5)
say(step="write", answered=w is not None)

# Leave no half-open connection behind (the server's next byte is one of
# these). DSCP CS1 tells these RSTs from the kernel's, which nft drops.
send("R", snd, 0, tos=0x20)
send("R", snd + 12, 0, tos=0x20)
sn.stop()
`

// synMidStep is one line of the attacker's output.
type synMidStep struct {
	Step         string
	Tid          int
	OK           bool
	ChallengeACK bool `json:"challenge_ack"`
	Answered     bool
	Resp         string
}

// TestE2ESynMidStream: the reads before the SYN pass, the segment after it
// is refused in enforce (a stream-gap verdict for the flow), and the PLC's
// register 100 keeps its value: the write never reached it.
func TestE2ESynMidStream(t *testing.T) {
	e2e.Need(t, scapyPython, "-c", "import scapy.all")
	// nft and tcpdump (scapy compiles its capture filter with it) are
	// installed by .ci/run: without them the test fails, it does not skip.
	r := newModbusRig(t)
	sup := r.P.Host(plant.Supervisory)
	plc := r.P.Host(plant.Control)

	// The HMI's kernel knows nothing of scapy's connection and would reset
	// it at the SYN-ACK; it sends no RST from that port (scapy's own RSTs
	// carry DSCP CS1).
	nft := plant.NSCmd(sup.NS, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(fmt.Sprintf(`table inet synmid {
  chain out { type filter hook output priority 0; tcp sport %d tcp flags rst ip dscp != cs1 drop; }
}
`, synMidPort))
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft in the HMI's namespace: %v: %s", err, out)
	}

	sock := r.Socket()
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: true, Queue: 80, Socket: sock,
		Extra: mbRule("")}.Render(t))
	d := r.StartDaemon("")
	mark := d.Mark()
	if v := mustRead(t, r.hmiClient(e2e.PassTimeout), "before the attack"); v != 100 {
		t.Fatalf("register 100 holds %d before the attack", v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", sup.NS, scapyPython, "-c", synMidAttacker,
		plc.IPv4.String(), fmt.Sprint(synMidPort), fmt.Sprint(mbPort))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scapy: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	steps := map[string][]synMidStep{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var s synMidStep
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("scapy printed %q: %v", l, err)
		}
		steps[s.Step] = append(steps[s.Step], s)
	}
	t.Logf("scapy: %s", strings.TrimSpace(stdout.String()))

	// (1) The legit reads were answered.
	if reads := steps["read"]; len(reads) != 2 || !reads[0].OK || !reads[1].OK {
		t.Fatalf("the reads before the SYN were not answered: %+v", reads)
	}
	// The server saw the SYN as the attack needs: into its connection.
	if s := steps["syn"]; len(s) != 1 || !s[0].ChallengeACK {
		t.Errorf("the PLC did not answer the mid-stream SYN with a challenge ACK: %+v", s)
	}
	// (2) The write never reached the PLC.
	if w := steps["write"]; len(w) != 1 || w[0].Answered {
		t.Errorf("the PLC answered the smuggled write: %+v", w)
	}
	if v := mustRead(t, r.hmiClient(e2e.PassTimeout), "after the attack"); v != 100 {
		t.Errorf("register 100 holds %d after the attack: the write slipped past the read-only rule", v)
	}
	// scapy's closing RST reached the PLC: nothing is left half-open.
	deadline := time.Now().Add(e2e.PassTimeout)
	for {
		out, err := plant.NSCmd(plc.NS, "ss", "-Htn", "state", "connected",
			fmt.Sprintf("( sport = :%d and dport = :%d )", mbPort, synMidPort)).CombinedOutput()
		if err != nil {
			t.Fatalf("ss: %v: %s", err, out)
		}
		if len(bytes.TrimSpace(out)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("scapy's connection is still open at the PLC after its RST:\n%s", out)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	l := d.Wait(mark, "a stream-gap verdict for the scapy flow", func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.Str("reason") == "stream-gap" && l.Num("sport") == synMidPort
	})
	app, _ := l.M["app"].(map[string]any)
	if l.Str("verdict") != "drop" || l.Str("rule") != "hmi-modbus" || l.Str("src") != sup.IPv4.String() ||
		l.Num("dport") != mbPort || app == nil || app["detail"] != "data-before-the-syn-is-answered" {
		t.Errorf("stream-gap line: %s", l.Raw)
	}
}
