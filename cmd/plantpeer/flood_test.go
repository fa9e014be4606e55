package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestFloodHello: with -hello the flood's first datagram is answered by
// the sink and not counted, so the sink counts exactly what was flooded.
func TestFloodHello(t *testing.T) {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var sinkOut, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"udp-sink", "-l", addr, "-for", "5s", "-idle", "300ms", "-hello"}, &sinkOut, &errb)
	}()
	// The sink answers a hello once it is bound (and does not count it).
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		c.Write([]byte(helloMsg))
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 64)); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("udp-sink -hello never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Close()
	var floodOut bytes.Buffer
	if code := run(context.Background(), []string{"flood", "-addr", addr, "-for", "200ms", "-hello"}, &floodOut, &errb); code != 0 {
		t.Fatalf("flood: %d %s", code, errb.String())
	}
	if code := <-done; code != 0 {
		t.Fatalf("udp-sink: %d %s", code, errb.String())
	}
	var fr floodResult
	var sr sinkResult
	if err := json.Unmarshal(floodOut.Bytes(), &fr); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sinkOut.Bytes(), &sr); err != nil {
		t.Fatal(err)
	}
	// Loopback may drop under a burst; never more than was sent, and the
	// hello never counted.
	if sr.Packets == 0 || sr.Packets > fr.Sent || sr.Bytes != sr.Packets*64 {
		t.Errorf("sink counted %d packets (%d bytes) of %d flooded", sr.Packets, sr.Bytes, fr.Sent)
	}
}
