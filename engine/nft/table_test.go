package nft

import (
	"encoding/binary"

	"fmt"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"io"
	"log/slog"
	"os"
	"os/exec"
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
