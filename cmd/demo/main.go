// Command demo walks through conduit's job on a plant built from network
// namespaces: conduit goes inline in monitor mode, an HMI polls a PLC, an
// engineering workstation writes to it, and an enterprise laptop tries to
// reach it; the operator then switches to enforce by editing the policy
// file, and the same traffic runs again. It prints what passed, what was
// (or would have been) dropped, and why, then tears everything down.
//
// Run it with `sudo make demo`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding the conduit and plantpeer binaries")
	policy := flag.String("policy", "testdata/demo/policy.yaml", "demo policy (mode: monitor)")
	flag.Parse()
	if err := run(*bin, *policy); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// logLine is the part of conduit's JSON log the demo shows.
type logLine struct {
	Event    string `json:"event"`
	Mode     string `json:"mode"`
	Verdict  string `json:"verdict"`
	Would    string `json:"would"`
	Rule     string `json:"rule"`
	FromZone string `json:"from_zone"`
	ToZone   string `json:"to_zone"`
	Proto    string `json:"proto"`
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Dport    int    `json:"dport"`
	Reason   string `json:"reason"`
	OldMode  string `json:"old_mode"`
	NewMode  string `json:"new_mode"`
	Result   string `json:"result"`
	Msg      string `json:"msg"`
}

// daemonLog collects conduit's log lines as they arrive.
type daemonLog struct {
	mu    sync.Mutex
	lines []logLine
}

func (d *daemonLog) add(l logLine) { d.mu.Lock(); d.lines = append(d.lines, l); d.mu.Unlock() }

func (d *daemonLog) since(n int) []logLine {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]logLine(nil), d.lines[n:]...)
}

func (d *daemonLog) len() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.lines) }

// wait returns once a line satisfies ok, or fails after timeout.
func (d *daemonLog) wait(timeout time.Duration, what string, ok func(logLine) bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range d.since(0) {
			if ok(l) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("timed out waiting for %s", what)
}

func run(bin, policySrc string) error {
	if msg := plant.Available(); msg != "" {
		return errors.New(msg)
	}
	conduit, peer := filepath.Join(bin, "conduit"), filepath.Join(bin, "plantpeer")
	for _, b := range []string{conduit, peer} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s missing: run `make build` first", b)
		}
	}
	dir, err := os.MkdirTemp("", "conduit-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	policy := filepath.Join(dir, "conduit.yaml")
	src, err := os.ReadFile(policySrc)
	if err != nil {
		return err
	}
	// The demo's control socket and hit counters live in its temporary
	// directory: never the host's /run/conduit.sock or state file, which a
	// production daemon on the same box owns.
	src = fmt.Appendf(src, "\ncontrol: {socket: %q}\n", filepath.Join(dir, "conduit.sock"))
	if err := os.WriteFile(policy, src, 0o644); err != nil {
		return err
	}

	step("building the plant: enterprise, operations, supervisory and control zones on one bridge")
	p, err := plant.Up(plant.UniquePrefix("demo"))
	if err != nil {
		return err
	}
	// Tear down on every path, including Ctrl-C.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; p.Down(); os.Exit(130) }()
	defer p.Down()
	ctl, sup, ent, ops := p.Host(plant.Control), p.Host(plant.Supervisory), p.Host(plant.Enterprise), p.Host(plant.Operations)
	fmt.Printf("   PLC %s (control) · HMI %s (supervisory) · EWS %s (engineering) · laptop %s (enterprise)\n",
		ctl.IPv4, sup.IPv4, plant.EWS, ent.IPv4)

	step("starting conduit inline on the bridge, in monitor mode")
	logs := &daemonLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := p.Cmd(p.FW, conduit, "run", "-c", policy, "--state", filepath.Join(dir, "state.json"))
	stdout, _ := d.StdoutPipe()
	d.Stderr = os.Stderr
	if err := d.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				logs.add(l)
			}
		}
	}()
	stopped := false
	stopDaemon := func() {
		if !stopped {
			stopped = true
			d.Process.Signal(syscall.SIGTERM)
			d.Wait()
		}
	}
	defer stopDaemon()
	if err := logs.wait(10*time.Second, "conduit to start", func(l logLine) bool { return l.Event == "start" }); err != nil {
		return err
	}

	plc := p.Cmd(ctl.NS, peer, "modbus-plc", "-l", ctl.IPv4.String()+":502", "-for", "60s")
	if err := plc.Start(); err != nil {
		return err
	}
	defer func() { plc.Process.Kill(); plc.Wait() }()
	time.Sleep(200 * time.Millisecond)

	traffic := func() {
		target := ctl.IPv4.String() + ":502"
		show("HMI polls holding registers", peerRun(ctx, p, sup.NS, peer, "modbus-hmi", "-addr", target, "-n", "5", "-interval", "50ms"))
		show("EWS writes a register", peerRun(ctx, p, ops.NS, peer, "modbus-hmi", "-addr", target, "-n", "2", "-interval", "50ms", "-write", "-src", plant.EWS.String()))
		show("enterprise laptop reads the PLC over Modbus", peerRun(ctx, p, ent.NS, peer, "modbus-hmi", "-addr", target, "-n", "1"))
		show("operations pings the PLC", peerRun(ctx, p, ops.NS, peer, "probe", "-proto", "icmp", "-addr", ctl.IPv4.String(), "-timeout", "1s"))
		show("HMI pings the PLC", peerRun(ctx, p, sup.NS, peer, "probe", "-proto", "icmp", "-addr", ctl.IPv4.String(), "-timeout", "1s"))
		time.Sleep(300 * time.Millisecond) // let the last log lines arrive
	}

	step("phase 1 — monitor: everything passes, conduit logs what enforce would drop")
	mark := logs.len()
	traffic()
	summarize(logs.since(mark))

	step("the operator edits the policy file: mode: monitor → mode: enforce")
	edited := strings.Replace(string(src), "mode: monitor", "mode: enforce", 1)
	tmp := policy + ".new"
	if err := os.WriteFile(tmp, []byte(edited), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, policy); err != nil { // editors replace files by rename; conduit watches for that
		return err
	}
	if err := logs.wait(5*time.Second, "the reload", func(l logLine) bool { return l.Event == "mode_change" }); err != nil {
		return err
	}
	for _, l := range logs.since(mark) {
		if l.Event == "mode_change" {
			fmt.Printf("   conduit reloaded the file by itself: mode_change %s → %s\n", l.OldMode, l.NewMode)
		}
	}

	step("phase 2 — enforce: the same traffic again")
	mark = logs.len()
	traffic()
	summarize(logs.since(mark))

	step("stopping conduit (SIGTERM): its nftables table is removed, the bridge forwards on its own")
	stopDaemon()
	for _, l := range logs.since(0) {
		if l.Event == "stop" {
			fmt.Println("   conduit stopped cleanly")
		}
	}
	step("tearing down the plant")
	return nil
}

func step(s string) { fmt.Printf("\n▶ %s\n", s) }

type outcome struct {
	ok  bool
	out string
}

func peerRun(ctx context.Context, p *plant.Plant, ns, peer string, args ...string) outcome {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := p.Cmd(ns, peer, args...) // ip netns exec NS peer args...
	out, err := exec.CommandContext(ctx, c.Path, c.Args[1:]...).Output()
	return outcome{ok: err == nil, out: strings.TrimSpace(string(out))}
}

func show(what string, o outcome) {
	mark := "✔ passed "
	if !o.ok {
		mark = "✘ blocked"
	}
	fmt.Printf("   %s  %s\n", mark, what)
}

// summarize prints conduit's verdict lines of one phase.
func summarize(lines []logLine) {
	fmt.Println("   conduit's verdict log for this phase (one line per flow):")
	n := 0
	for _, l := range lines {
		if l.Event != "verdict" || l.Proto == "icmpv6" {
			continue
		}
		n++
		rule := l.Rule
		if rule == "" {
			rule = "-"
		}
		note := ""
		switch {
		case l.Verdict == "drop":
			note = "DROPPED"
		case l.Would == "drop":
			note = "would drop in enforce"
		}
		fmt.Printf("     %-8s %-6s %-4s %-15s → %-15s %-5s %-12s → %-11s rule=%-18s %s\n",
			l.Mode, l.Verdict, l.Proto, l.Src, l.Dst, port(l), l.FromZone, l.ToZone, rule, note)
	}
	if n == 0 {
		fmt.Println("     (none)")
	}
}

func port(l logLine) string {
	if l.Dport == 0 {
		return ""
	}
	return fmt.Sprint(l.Dport)
}
