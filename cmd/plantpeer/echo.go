package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// serverLifetime is the default bound on servers, so a forgotten peer
// cannot outlive a test session by much.
const serverLifetime = 10 * time.Minute

// runTCPServer echoes every byte back on every connection.
func runTCPServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, "tcp-server", args, stderr, func(ctx context.Context, listen string) error {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return err
		}
		return serveTCP(ctx, ln, func(c net.Conn) {
			_, _ = io.Copy(c, c)
		})
	})
}

// serveTCP accepts until ctx ends, runs handle per connection and closes
// every connection on the way out.
func serveTCP(ctx context.Context, ln net.Listener, handle func(net.Conn)) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			handle(c)
		}()
	}
}

// runUDPServer sends every datagram back to its sender.
func runUDPServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, "udp-server", args, stderr, echoUDP)
}

// echoUDP serves runUDPServer on listen until ctx ends.
func echoUDP(ctx context.Context, listen string) error {
	addr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	buf := make([]byte, 65536)
	for {
		n, peer, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		// A failed send (peer gone, buffer full) is the peer's loss, not ours.
		_, _ = c.WriteToUDPAddrPort(buf[:n], peer)
	}
}
