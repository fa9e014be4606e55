package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"
)

// TestOPCUAPeers runs the server and the client on loopback: every
// service is answered (call with a service fault: the library's server
// has no methods), and a client of a port with no server gets no answer.
func TestOPCUAPeers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	var srvOut, srvErr bytes.Buffer
	go func() { srvDone <- runOPCUAServer(ctx, []string{"-l", addr, "-for", "1m"}, &srvOut, &srvErr) }()
	defer func() {
		cancel()
		if err := <-srvDone; err != nil {
			t.Errorf("server: %v (%s)", err, srvErr.String())
		}
	}()
	client := func(args ...string) []opcuaResult {
		var out, errb bytes.Buffer
		if err := runOPCUAClient(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("client: %v (%s)", err, errb.String())
		}
		var res struct{ Results []opcuaResult }
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("client output %q: %v", out.String(), err)
		}
		return res.Results
	}
	var res []opcuaResult
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res = client("-addr", addr, "-ops", "read,browse,write,call"); len(res) == 5 || time.Now().After(deadline) {
			break
		}
	}
	want := []opcuaResult{{Op: "connect", OK: true, Answered: true}, {Op: "read", OK: true, Answered: true},
		{Op: "browse", OK: true, Answered: true}, {Op: "write", OK: true, Answered: true}, {Op: "call", Answered: true}}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for i, w := range want {
		if res[i].Op != w.Op || res[i].OK != w.OK || res[i].Answered != w.Answered {
			t.Errorf("result %d: %+v, want %+v", i, res[i], w)
		}
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close() // accepts, never answers
	if r := client("-addr", l2.Addr().String(), "-timeout", "300ms"); len(r) != 1 || r[0].Answered {
		t.Errorf("silent server: %+v", r)
	}
}
