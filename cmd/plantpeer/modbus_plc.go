package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simonvetter/modbus"
)

// plcSize is the number of coils and of each register kind the PLC has.
const plcSize = 1000

// plc is the register image of a simulated PLC, served for every unit id.
type plc struct {
	mu       sync.Mutex
	coils    [plcSize]bool
	holding  [plcSize]uint16
	reads    atomic.Uint64
	writes   atomic.Uint64
	rejected atomic.Uint64
}

func newPLC() *plc {
	p := &plc{}
	for i := range p.holding {
		p.holding[i] = uint16(i) // recognisable values: register n holds n
	}
	return p
}

// span checks a request's address range against the image.
func (p *plc) span(addr, qty uint16) error {
	if int(addr)+int(qty) > plcSize {
		p.rejected.Add(1)
		return modbus.ErrIllegalDataAddress
	}
	return nil
}

func (p *plc) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	return access(p, p.coils[:], req.Addr, req.Quantity, req.IsWrite, req.Args)
}

// access reads or writes a span of one of the PLC's memories.
func access[T any](p *plc, mem []T, addr, qty uint16, write bool, args []T) ([]T, error) {
	if err := p.span(addr, qty); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if write {
		p.writes.Add(1)
		copy(mem[addr:], args)
		return nil, nil
	}
	p.reads.Add(1)
	return append([]T(nil), mem[addr:addr+qty]...), nil
}

// computed reads a span of inputs the PLC computes instead of storing:
// value(i) is the i-th one asked for.
func computed[T any](p *plc, addr, qty uint16, value func(i int) T) ([]T, error) {
	if err := p.span(addr, qty); err != nil {
		return nil, err
	}
	p.reads.Add(1)
	out := make([]T, qty)
	for i := range out {
		out[i] = value(i)
	}
	return out, nil
}

func (p *plc) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) ([]bool, error) {
	return computed(p, req.Addr, req.Quantity, func(i int) bool { return (int(req.Addr)+i)%2 == 1 })
}

func (p *plc) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	return access(p, p.holding[:], req.Addr, req.Quantity, req.IsWrite, req.Args)
}

func (p *plc) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return computed(p, req.Addr, req.Quantity, func(i int) uint16 {
		return uint16(time.Now().Unix()) + uint16(i) // a changing process value
	})
}

// runPLC serves Modbus/TCP with simonvetter/modbus and prints request
// counts as JSON when it stops.
func runPLC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("modbus-plc", stderr)
	sf := newServerFlags(fs)
	verbose := fs.Bool("v", false, "log the library's messages to stderr")
	maxClients := fs.Uint("max-clients", 64, "concurrent client connections (1..100000)")
	ctx, cancel, err := sf.start(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cancel()
	if *maxClients < 1 || *maxClients > 100000 {
		return usagef("-max-clients must be 1..100000")
	}
	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	p := newPLC()
	ap := netip.MustParseAddrPort(*sf.listen)
	srv, err := modbus.NewServer(&modbus.ServerConfiguration{
		URL:        "tcp://" + ap.String(),
		Timeout:    time.Hour, // OT sessions idle long; the firewall, not the PLC, is under test
		MaxClients: *maxClients,
		Logger:     log.New(logOut, "modbus-plc ", log.LstdFlags),
	}, p)
	if err != nil {
		return fmt.Errorf("modbus server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("modbus server on %s: %w", ap, err)
	}
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		return err
	}
	return writeJSON(stdout, map[string]uint64{
		"reads": p.reads.Load(), "writes": p.writes.Load(), "rejected": p.rejected.Load(),
	})
}
