// Command gencap writes a realistic mixed OT capture (pcap) of a small
// plant — Modbus/TCP, DNP3, S7comm, EtherNet/IP, a historian feed, NTP,
// DNS, ICMP and ARP, with long idle gaps on some sessions — for replay
// benchmarks and tests. See package capture/synth for the plant.
//
//	gencap -o plant.pcap                 # 1,000,000 frames, about 3.3 hours
//	gencap -o small.pcap -n 0 -d 3h -scale 200
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/conduit-ot/conduit/capture/synth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gencap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `file` (- for stdout)")
	n := fs.Int("n", 1_000_000, "frames to write (0: no limit, then -d must be set)")
	dur := fs.Duration("d", 0, "capture length (0: no limit)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same capture")
	scale := fs.Float64("scale", 1, "multiply every polling interval (long gaps stay as they are)")
	start := fs.String("start", "2024-03-04T06:00:00Z", "capture start time (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: gencap -o FILE [-n FRAMES] [-d DURATION] [-seed N] [-scale X] [-start TIME]")
		return 2
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fmt.Fprintf(stderr, "gencap: -start: %v\n", err)
		return 2
	}
	cfg := synth.Config{Start: t0, Seed: *seed, Packets: *n, Duration: *dur, PollScale: *scale}
	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		f, err = os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "gencap: %v\n", err)
			return 1
		}
		w = f
	}
	bw := bufio.NewWriter(w)
	st, err := synth.Write(bw, cfg)
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gencap: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "gencap: %d frames (%d IP) from %s to %s (%s)\n", st.Frames, st.IP,
		st.First.Format(time.RFC3339), st.Last.Format(time.RFC3339), st.Last.Sub(st.First).Round(time.Second))
	return 0
}
