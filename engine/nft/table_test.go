package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// tempNetNS creates a named network namespace for the test and returns an fd to it.
func tempNetNS(t *testing.T) (int, string) { // fd and name
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("cnft%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	f, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd()), name
}

func TestInstallRemove(t *testing.T) {
	fd, _ := tempNetNS(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, bypass := range []bool{true, false} {
		inst, err := Install(Config{QueueNum: 7, QueueCount: 2, Bypass: bypass, NetNS: fd}, log)
		if err != nil {
			t.Fatalf("Install: %v", err)
		}
		t.Logf("method %s", inst.Method)
		if ok, err := Present(fd); err != nil || !ok {
			t.Fatalf("Present after Install = %v, %v", ok, err)
		}
		num, total, gotBypass := readQueueRule(t, fd, inst)
		if num != 7 || total != 2 || gotBypass != bypass {
			t.Errorf("queue rule = num %d total %d bypass %v, want 7 2 %v", num, total, gotBypass, bypass)
		}
		// A second Install replaces the table instead of failing or duplicating rules.
		if _, err := Install(Config{QueueNum: 7, QueueCount: 2, Bypass: bypass, NetNS: fd}, log); err != nil {
			t.Fatalf("second Install: %v", err)
		}
		if err := inst.Remove(); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if ok, _ := Present(fd); ok {
			t.Fatal("table still present after Remove")
		}
		if err := inst.Remove(); err != nil {
			t.Fatalf("Remove twice: %v", err)
		}
	}
}

// readQueueRule reads back what the kernel stored, whichever method was used.
func readQueueRule(t *testing.T, fd int, inst *Installed) (num, total uint16, bypass bool) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: TableName, Family: inst.families[0]}
	rules, err := conn.GetRules(tbl, &nftables.Chain{Name: "forward", Table: tbl})
	if err != nil {
		t.Fatalf("GetRules: %v", err)
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			switch q := e.(type) {
			case *expr.Queue:
				return q.Num, q.Total, q.Flag&expr.QueueFlagBypass != 0
			case *expr.Target:
				if q.Name != "NFQUEUE" || q.Rev != 3 {
					t.Fatalf("target %s rev %d", q.Name, q.Rev)
				}
				b, ok := q.Info.(*xt.Unknown)
				if !ok || len(*b) < 6 {
					t.Fatalf("target info %T %v", q.Info, q.Info)
				}
				return binary.NativeEndian.Uint16((*b)[0:]), binary.NativeEndian.Uint16((*b)[2:]), binary.NativeEndian.Uint16((*b)[4:])&flagBypass != 0
			}
		}
	}
	t.Fatalf("no queue rule among %d rules", len(rules))
	return
}

func TestInstallRejectsQueueOverflow(t *testing.T) {
	_, err := Install(Config{QueueNum: 65535, QueueCount: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v, want range error", err)
	}
}

const plantPolicy = `
mode: enforce
zones:
  enterprise:  {level: 4, cidrs: [10.40.0.0/16, "fd00:40::/64"]}
  operations:  {level: 3, cidrs: [10.30.0.0/24, "fd00:30::/64"]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24, "fd00:20::/64"]}
  control:     {level: 1, cidrs: [10.10.0.0/24, "fd00:10::/64"]}
  hmi-cell:    {level: 2, cidrs: [10.20.0.128/25]}
conduits:
  - {from: operations, to: supervisory, mode: monitor}
rules:
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502, modbus: {functions: [read_holding_registers]}}
  - {name: hmi-io-udp, from: [supervisory, 10.30.0.7/32], to: control, proto: udp, dport: [2222, "3000-3010"]}
  - {name: hmi-pings-plc, from: supervisory, to: control, proto: icmp, icmp_types: [8]}
  - {name: hmi-pings-plc-v6, from: supervisory, to: control, proto: icmpv6, icmp_types: [128]}
  - {name: deny-enterprise-to-plant, from: enterprise, to: [operations, supervisory, control], action: deny}
  - {name: ops-any, from: operations, to: hmi-cell}
default: deny
`

// TestInstallPrefilter has the kernel take a compiled policy, with NFLOG,
// the app queue and the counters, and replace it atomically.
func TestInstallPrefilter(t *testing.T) {
	fd, ns := tempNetNS(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pol, err := rules.Parse("plant.yaml", []byte(plantPolicy))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := Install(Config{QueueNum: 7, QueueCount: 2, Bypass: true, NetNS: fd, Policy: pol,
		Filter: FilterConfig{LogGroup: 5}, AppQueue: true}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	defer inst.Remove()
	t.Logf("method %s logging %v", inst.Method, inst.Logging)
	if !inst.Logging {
		t.Error("the kernel refused NFLOG")
	}
	c, err := inst.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Dropped["default"]; !ok {
		t.Errorf("no default counter: %v", c)
	}
	handle := func() string {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-a", "list", "table", "inet", TableName).CombinedOutput()
		if err != nil {
			t.Skipf("nft -a list table: %v: %s", err, out)
		}
		// A new table gets a new handle; its chains count from 1 again.
		m := regexp.MustCompile(`table inet conduit \{ # handle (\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no table handle in %s", out)
		}
		return string(m[1])
	}
	before := handle()
	if err := inst.Replace(pol); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	// In place: the table and its base chains (and their hooks) stayed,
	// so nothing queued was dropped by the replace.
	if after := handle(); after != before {
		t.Errorf("the table was recreated: handle %s, was %s", after, before)
	}
	if err := inst.Replace(pol); err != nil {
		t.Fatalf("second Replace: %v", err)
	}
	// A new daemon's Install over the table left in place refills it in
	// place too (a killed daemon's table, diverted first).
	if _, err := Divert(fd, false); err != nil {
		t.Fatal(err)
	}
	inst2, err := Install(Config{QueueNum: 7, QueueCount: 2, Bypass: true, NetNS: fd, Policy: pol,
		Filter: FilterConfig{LogGroup: 5}, AppQueue: true}, log)
	if err != nil {
		t.Fatalf("Install over the table in place: %v", err)
	}
	if after := handle(); after != before {
		t.Errorf("Install recreated the table left in place: handle %s, was %s", after, before)
	}
	if out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "chain", "inet", TableName, chainName).CombinedOutput(); strings.Contains(string(out), "queueing stopped") || !strings.Contains(string(out), "jump prefilter") {
		t.Errorf("the forward chain after Install in place:\n%s", out)
	}
	inst = inst2
	// The counts outlive the table: the shutdown's state save reads them
	// after the table is gone.
	if err := inst.Remove(); err != nil {
		t.Fatal(err)
	}
	if c2, err := inst.Counters(); err != nil || len(c2.Dropped) == 0 {
		t.Errorf("counters after Remove: %+v, %v", c2, err)
	}
	if testing.Verbose() {
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput()
		t.Logf("%s", out)
	}
	_ = log
}
