package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// hmiResult is modbus-hmi's JSON summary.
type hmiResult struct {
	ReadsOK      int      `json:"reads_ok"`
	ReadsFailed  int      `json:"reads_failed"`
	WritesOK     int      `json:"writes_ok"`
	WritesFailed int      `json:"writes_failed"`
	Errors       []string `json:"errors"` // distinct messages, at most maxErrors
}

const maxErrors = 10

func (r *hmiResult) fail(err error) {
	msg := err.Error()
	for _, e := range r.Errors {
		if e == msg {
			return
		}
	}
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, msg)
	}
}

// runHMI polls a PLC like an HMI does: one long-lived connection, read
// holding registers 0-9 every -interval, optionally write a register. A
// failed request drops the connection (its bytes may still sit in a
// retransmission queue) and the next poll reconnects. Exit status 1 when
// any request failed.
func runHMI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("modbus-hmi", stderr)
	addr := fs.String("addr", "", "PLC IP:PORT")
	n := fs.Int("n", 10, "polls (1..1000000)")
	interval := fs.Duration("interval", 100*time.Millisecond, "pause between polls")
	write := fs.Bool("write", false, "also write a holding register each poll (function 6)")
	writeReg := fs.Uint("write-reg", 100, "register -write writes")
	unit := fs.Uint("unit", 1, "unit id")
	timeout := fs.Duration("timeout", time.Second, "per connect and per request")
	src := fs.String("src", "", "source IP to bind (e.g. the engineering workstation)")
	if err := parse(fs, args, "addr"); err != nil {
		return err
	}
	if *n < 1 || *n > 1_000_000 || *interval < 0 || *timeout <= 0 {
		return usagef("-n must be 1..1e6, -interval >= 0, -timeout > 0")
	}
	if *unit > 255 || *writeReg > 65535 {
		return usagef("-unit must be 0..255 and -write-reg 0..65535")
	}
	srcAddr, err := localAddr(*src)
	if err != nil {
		return err
	}

	res := hmiResult{Errors: []string{}}
	var c *mbClient
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	drop := func(err error) {
		res.fail(err)
		if c != nil {
			c.Close()
			c = nil
		}
	}
	for i := 0; i < *n && ctx.Err() == nil; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(*interval):
			}
		}
		if c == nil {
			if c, err = dialModbus(*addr, srcAddr, uint8(*unit), *timeout); err != nil {
				c = nil
				res.fail(fmt.Errorf("connect: %w", err))
				res.ReadsFailed++
				if *write {
					res.WritesFailed++
				}
				continue
			}
		}
		if _, err := c.readHolding(0, 10); err != nil {
			res.ReadsFailed++
			drop(err)
		} else {
			res.ReadsOK++
		}
		if !*write {
			continue
		}
		if c == nil {
			if c, err = dialModbus(*addr, srcAddr, uint8(*unit), *timeout); err != nil {
				c = nil
				res.fail(fmt.Errorf("connect: %w", err))
				res.WritesFailed++
				continue
			}
		}
		if err := c.writeRegister(uint16(*writeReg), uint16(i)); err != nil {
			res.WritesFailed++
			drop(err)
		} else {
			res.WritesOK++
		}
	}
	if err := writeJSON(stdout, res); err != nil {
		return err
	}
	if res.ReadsFailed+res.WritesFailed > 0 {
		return fmt.Errorf("%d reads and %d writes failed", res.ReadsFailed, res.WritesFailed)
	}
	return nil
}
