package conntrack

import (
	"testing"
	"time"
	"unsafe"
)

const (
	syn    = TCPFlagSYN
	synack = TCPFlagSYN | TCPFlagACK
	ack    = TCPFlagACK
	psh    = TCPFlagPSH | TCPFlagACK
	fin    = TCPFlagFIN | TCPFlagACK
	rst    = TCPFlagRST
	rstack = TCPFlagRST | TCPFlagACK
)

type step struct {
	d     Dir
	flags uint8
	want  State
}

func TestTCPTransitions(t *testing.T) {
	o, r := DirOriginal, DirReply
	tests := []struct {
		name  string
		steps []step
	}{
		{"three-way handshake", []step{{o, syn, StateSynSent}, {r, synack, StateSynRecv}, {o, ack, StateEstablished}, {o, psh, StateEstablished}, {r, psh, StateEstablished}}},
		{"client closes first", []step{{o, syn, StateSynSent}, {r, synack, StateSynRecv}, {o, ack, StateEstablished}, {o, fin, StateClosing}, {r, ack, StateClosing}, {r, fin, StateClosed}, {o, ack, StateClosed}}},
		{"server closes first", []step{{o, syn, StateSynSent}, {r, synack, StateSynRecv}, {o, ack, StateEstablished}, {r, fin, StateClosing}, {r, fin, StateClosing}, {o, fin, StateClosed}}},
		{"rst from server while established", []step{{o, syn, StateSynSent}, {r, synack, StateSynRecv}, {o, ack, StateEstablished}, {r, rstack, StateClosing}, {o, psh, StateClosing}}},
		{"rst refuses connection", []step{{o, syn, StateSynSent}, {r, rstack, StateClosing}}},
		{"rst after both fins stays closed", []step{{o, fin, StateClosing}, {r, fin, StateClosed}, {o, rst, StateClosed}}},
		{"syn retransmit stays syn_sent", []step{{o, syn, StateSynSent}, {o, syn, StateSynSent}}},
		{"reply ack before syn-ack is ignored", []step{{o, syn, StateSynSent}, {r, ack, StateSynSent}}},
		{"syn from the reply side is ignored", []step{{o, psh, StateNew}, {r, syn, StateNew}}},
		{"pickup waits for the other side", []step{{o, psh, StateNew}, {o, psh, StateNew}, {r, ack, StateEstablished}}},
		{"pickup confirmed by first reply", []step{{r, psh, StateEstablished}}},
		{"pickup during handshake", []step{{r, synack, StateSynRecv}, {o, ack, StateEstablished}}},
		{"pickup then fin", []step{{o, fin, StateClosing}, {r, fin, StateClosed}}},
		{"tuple reused after close", []step{{o, fin, StateClosing}, {r, fin, StateClosed}, {o, syn, StateSynSent}, {r, synack, StateSynRecv}, {o, ack, StateEstablished}, {o, fin, StateClosing}}},
		{"syn on established flow ignored", []step{{o, syn, StateSynSent}, {r, synack, StateSynRecv}, {o, ack, StateEstablished}, {o, syn, StateEstablished}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Flow{Key: tcpKey("10.20.0.5", "10.10.0.7", 40000, 502)}
			for i, st := range tt.steps {
				tcpTransition(f, st.d, st.flags)
				if f.State != st.want {
					t.Fatalf("step %d (%v flags %#02x): state %v, want %v", i, st.d, st.flags, f.State, st.want)
				}
			}
		})
	}
}

func TestNonTCPStateOnReply(t *testing.T) {
	_, s, clk, _ := newTestShard(8)
	k := udpKey("10.20.0.5", "10.10.0.7", 20000, 20000)
	packet(s, k, 0, 100, clk.Now())
	if f, _, _ := lookupFlow(s, k, clk.Now()); f.State != StateNew {
		t.Fatalf("after request: %v, want new", f.State)
	}
	packet(s, k.Reverse(), 0, 100, clk.Now())
	if f, _, _ := lookupFlow(s, k, clk.Now()); f.State != StateEstablished {
		t.Fatalf("after reply: %v, want established", f.State)
	}
}

func TestTimeout(t *testing.T) {
	to := DefaultTimeouts()
	tests := []struct {
		proto    uint8
		state    State
		override time.Duration
		want     time.Duration
	}{
		{ProtoTCP, StateEstablished, 0, 24 * time.Hour},
		{ProtoTCP, StateEstablished, time.Hour, time.Hour},
		{ProtoTCP, StateSynSent, time.Hour, 30 * time.Second},
		{ProtoTCP, StateSynRecv, 0, 30 * time.Second},
		{ProtoTCP, StateNew, time.Hour, 30 * time.Second}, // unconfirmed pickup
		{ProtoTCP, StateClosing, time.Hour, 2 * time.Minute},
		{ProtoTCP, StateClosed, time.Hour, 10 * time.Second},
		{ProtoUDP, StateNew, 0, 10 * time.Minute},
		{ProtoUDP, StateEstablished, 2 * time.Hour, 2 * time.Hour},
		{ProtoICMP, StateNew, time.Hour, 30 * time.Second},
		{ProtoICMPv6, StateEstablished, 0, 30 * time.Second},
		{47, StateNew, 0, 10 * time.Minute},
		{47, StateNew, 5 * time.Minute, 5 * time.Minute},
	}
	for _, tt := range tests {
		f := Flow{Key: Key{Proto: tt.proto}, State: tt.state, IdleTimeout: tt.override}
		if got := f.Timeout(&to); got != tt.want {
			t.Errorf("%s %v override %v: Timeout = %v, want %v", ProtoName(tt.proto), tt.state, tt.override, got, tt.want)
		}
		// Expired flips exactly at the timeout.
		if f.Expired(int64(tt.want)-1, &to) || !f.Expired(int64(tt.want), &to) {
			t.Errorf("%s %v: Expired boundary wrong at %v", ProtoName(tt.proto), tt.state, tt.want)
		}
	}
}

func TestTimeoutDefaultsFilled(t *testing.T) {
	got := Timeouts{UDP: time.Minute}.withDefaults()
	want := DefaultTimeouts()
	want.UDP = time.Minute
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
	short := Timeouts{TCPClosing: 3 * time.Second}.withDefaults()
	f := Flow{Key: Key{Proto: ProtoTCP}, State: StateClosed}
	if got := f.Timeout(&short); got != 3*time.Second {
		t.Errorf("closed timeout with tcp_closing 3s = %v, want 3s", got)
	}
}

func TestFlowSize(t *testing.T) {
	// Guards the field packing that memory per entry depends on.
	if got := unsafe.Sizeof(Flow{}); got > 152 {
		t.Errorf("sizeof(Flow) = %d, want <= 152", got)
	}
}
