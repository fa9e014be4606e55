package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/debug"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
)

// OPC UA peers of github.com/gopcua/opcua: a server with one writable
// variable and a client that runs a list of services against it and
// reports each one's outcome. Both use security policy None: the
// library's server does not complete an OpenSecureChannel under
// Basic256Sha256 (v0.8.0 tests only None), so signed and encrypted
// channels are tested from captures and built messages instead.

// opcuaVarID is the writable variable's numeric id in the server's
// namespace (index 1, the first one added).
const opcuaVarID = 100

// quiet silences the library (it logs through the standard logger) unless
// verbose, which also turns its debug output on.
func quiet(verbose bool) {
	if verbose {
		debug.Enable = true
		return
	}
	log.SetOutput(io.Discard)
}

// runOPCUAServer serves OPC UA until its lifetime ends.
func runOPCUAServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("opcua-server", stderr)
	sf := newServerFlags(fs)
	verbose := fs.Bool("v", false, "log the library's messages to stderr")
	ctx, cancel, err := sf.start(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cancel()
	quiet(*verbose)
	ap := netip.MustParseAddrPort(*sf.listen)
	s := server.New(
		server.EndPoint(ap.Addr().String(), int(ap.Port())),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
	)
	ns := server.NewNodeNameSpace(s, "plant")
	level := server.DataValueFromValue(byte(ua.AccessLevelTypeCurrentRead | ua.AccessLevelTypeCurrentWrite))
	v := server.NewNode(ua.NewNumericNodeID(ns.ID(), opcuaVarID), map[ua.AttributeID]*ua.DataValue{
		ua.AttributeIDAccessLevel:     level,
		ua.AttributeIDUserAccessLevel: level,
		ua.AttributeIDBrowseName:      server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: ns.ID(), Name: "Setpoint"}),
		ua.AttributeIDNodeClass:       server.DataValueFromValue(uint32(ua.NodeClassVariable)),
	}, nil, func() *ua.DataValue { return server.DataValueFromValue(float64(42)) })
	ns.AddNode(v)
	ns.Objects().AddRef(v, id.HasComponent, true)
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("opcua server on %s: %w", ap, err)
	}
	<-ctx.Done()
	s.Close()
	return writeJSON(stdout, map[string]string{"stopped": ap.String()})
}

// opcuaResult is one service's outcome in opcua-client's output: OK is a
// good response; Answered any response, a service fault included (what a
// firewall lets through is answered, what it drops times out).
type opcuaResult struct {
	Op       string `json:"op"`
	OK       bool   `json:"ok"`
	Answered bool   `json:"answered"`
	Millis   int64  `json:"ms"` // how long the service took
	Error    string `json:"error,omitempty"`
}

// answered reports whether err is the server's answer rather than a lost
// request or connection.
func answered(err error) bool {
	var sc ua.StatusCode
	if err == nil {
		return true
	}
	if !errors.As(err, &sc) {
		return false
	}
	switch sc {
	case ua.StatusBadTimeout, ua.StatusBadCommunicationError, ua.StatusBadSecureChannelClosed,
		ua.StatusBadNotConnected, ua.StatusBadDisconnect, ua.StatusBadConnectionClosed:
		return false
	}
	return true
}

// runOPCUAClient connects and runs -ops in order, each within -timeout; the connection (HEL, OPN, CreateSession,
// ActivateSession) is the op "connect". It prints {"results": [...]}.
func runOPCUAClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("opcua-client", stderr)
	addr := fs.String("addr", "", "server IP:PORT")
	ops := fs.String("ops", "read", "comma-separated services: read, browse, write, call")
	timeout := fs.Duration("timeout", 2*time.Second, "per-service timeout")
	src := fs.String("src", "", "local IP to connect from")
	verbose := fs.Bool("v", false, "log the library's messages to stderr")
	if err := parse(fs, args, "addr"); err != nil {
		return err
	}
	local, err := localAddr(*src)
	if err != nil {
		return err
	}
	for _, op := range strings.Split(*ops, ",") {
		if !opcuaOps[op] {
			return usagef("-ops: unknown service %q (want read, browse, write or call)", op)
		}
	}
	if *timeout <= 0 {
		return usagef("-timeout must be positive")
	}
	quiet(*verbose)
	ap := netip.MustParseAddrPort(*addr)
	endpoint := fmt.Sprintf("opc.tcp://%s", ap)
	dialer := &uacp.Dialer{Dialer: &net.Dialer{Timeout: *timeout}, ClientACK: uacp.DefaultClientACK}
	if local.IsValid() {
		dialer.Dialer.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
	}
	opts := []opcua.Option{
		opcua.SecurityPolicy("None"), opcua.SecurityMode(ua.MessageSecurityModeNone),
		opcua.AuthAnonymous(), opcua.Dialer(dialer), opcua.RequestTimeout(*timeout),
		opcua.AutoReconnect(false), opcua.SessionTimeout(time.Minute),
	}
	var results []opcuaResult
	start := time.Now()
	done := func(op string, err error) bool {
		r := opcuaResult{Op: op, OK: err == nil, Answered: answered(err), Millis: time.Since(start).Milliseconds()}
		start = time.Now()
		if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
		return err == nil
	}
	c, err := opcua.NewClient(endpoint, opts...)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 3**timeout)
	err = c.Connect(cctx)
	cancel()
	if done("connect", err) {
		defer c.Close(context.Background())
		for _, op := range strings.Split(*ops, ",") {
			octx, cancel := context.WithTimeout(ctx, *timeout)
			err := opcuaOp(octx, c, op)
			cancel()
			done(op, err)
		}
	}
	return writeJSON(stdout, map[string][]opcuaResult{"results": results})
}

var opcuaOps = map[string]bool{"read": true, "browse": true, "write": true, "call": true}

// opcuaOp runs one named service.
func opcuaOp(ctx context.Context, c *opcua.Client, op string) error {
	v := ua.NewNumericNodeID(1, opcuaVarID)
	switch op {
	case "read":
		_, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: v, AttributeID: ua.AttributeIDValue}}})
		return err
	case "browse":
		_, err := c.Browse(ctx, &ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{
			NodeID: ua.NewNumericNodeID(0, id.ObjectsFolder), BrowseDirection: ua.BrowseDirectionForward,
			IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll)}}})
		return err
	case "write":
		val, err := ua.NewVariant(float64(7))
		if err != nil {
			return err
		}
		_, err = c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: v, AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: val}}}})
		return err
	case "call":
		_, err := c.Call(ctx, &ua.CallMethodRequest{ObjectID: ua.NewNumericNodeID(0, id.Server),
			MethodID: ua.NewNumericNodeID(0, id.Server_GetMonitoredItems)})
		return err
	}
	return usagef("unknown op %q", op)
}
