package nft

import (
	"bytes"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// msgIndex is the index in req of the first message containing b, or -1.
func msgIndex(req []netlink.Message, b []byte) int {
	for i, m := range req {
		if bytes.Contains(m.Data, b) {
			return i
		}
	}
	return -1
}

// TestFastpathRuleEveryMethod: with Fastpath, the batch each queue method
// installs (native; compat in inet; compat in ip and ip6) carries the
// fast-path rule in every table, before that table's queue rule; without
// it, none.
func TestFastpathRuleEveryMethod(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  func(req []netlink.Message) bool
		want    Method
		queue   []byte
		nTables int
	}{
		{"native", func([]netlink.Message) bool { return false }, MethodNative, nativeName, 1},
		{"compat inet", func(req []netlink.Message) bool { return batchHas(req, nativeName) }, MethodCompatInet, compatName, 1},
		{"compat ip+ip6", noInetCompat, MethodCompatIP, compatName, 2},
	} {
		for _, on := range []bool{true, false} {
			var accepted []netlink.Message
			kernel := func(req []netlink.Message) ([]netlink.Message, error) {
				if len(req) == 0 {
					return nil, io.EOF
				}
				if tc.refuse(req) {
					return nil, unix.EOPNOTSUPP
				}
				accepted = req
				return nil, nil
			}
			inst, err := Install(Config{Dial: kernel, QueueNum: 20, QueueCount: 2, Bypass: true, Fastpath: on}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil || inst.Method != tc.want {
				t.Fatalf("%s: method %v, %v", tc.name, inst, err)
			}
			var fast, queues []int
			for i, m := range accepted {
				if bytes.Contains(m.Data, fastpathTag) {
					fast = append(fast, i)
				}
				if bytes.Contains(m.Data, tc.queue) {
					queues = append(queues, i)
				}
			}
			if !on {
				if len(fast) != 0 {
					t.Errorf("%s without fastpath: %d fast-path rules", tc.name, len(fast))
				}
				continue
			}
			if len(fast) != tc.nTables || len(queues) != tc.nTables {
				t.Fatalf("%s: %d fast-path rules and %d queue rules, want %d of each", tc.name, len(fast), len(queues), tc.nTables)
			}
			for i := range fast {
				if fast[i] > queues[i] {
					t.Errorf("%s: fast-path rule (message %d) after the queue rule (message %d)", tc.name, fast[i], queues[i])
				}
				// The rule matches the ct mark bit and accepts.
				d := accepted[fast[i]].Data
				if !bytes.Contains(d, []byte("ct\x00")) || !bytes.Contains(d, []byte("immediate\x00")) {
					t.Errorf("%s: the fast-path rule lacks its ct match or verdict", tc.name)
				}
			}
		}
	}
}

// fastpathTable installs a table with the fast path, fail-open when bypass,
// in the namespace fd, named ns; list returns the table as nft lists it
// there (inet, or ip for the compat method). Remove runs at the test's end.
func fastpathTable(t *testing.T, fd int, ns string, bypass bool) (inst *Installed, list func() string) {
	t.Helper()
	inst, err := Install(Config{QueueNum: 7, QueueCount: 1, Bypass: bypass, NetNS: fd, Fastpath: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Remove() })
	fam := "inet"
	if inst.Method == MethodCompatIP {
		fam = "ip"
	}
	return inst, func() string {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", fam, TableName).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v %s", err, out)
		}
		return string(out)
	}
}

// TestFastpathRuleKernel installs the table in a namespace and reads back
// what the kernel made of the rule, and its counter.
func TestFastpathRuleKernel(t *testing.T) {
	fd, name := tempNetNS(t)
	inst, list := fastpathTable(t, fd, name, true)
	s := list()
	rule := "ct state established ct mark & 0x40000000 == 0x40000000 counter packets 0 bytes 0 meta mark set meta mark | 0x80000000 accept"
	i, q := strings.Index(s, rule), strings.Index(strings.ToLower(s), "queue")
	if i < 0 || q < 0 || i > q {
		t.Errorf("want %q before the queue rule in:\n%s", rule, s)
	}
	if p, b, ok, err := inst.FastpathCounter(); err != nil || !ok || p != 0 || b != 0 {
		t.Errorf("FastpathCounter = %d %d %v %v, want 0 0 true nil", p, b, ok, err)
	}
}

// TestFastpathAliveKernel: a fail-closed table's fast path needs the alive
// element, which expires unless the daemon renews it.
func TestFastpathAliveKernel(t *testing.T) {
	fd, name := tempNetNS(t)
	inst, list := fastpathTable(t, fd, name, false)
	s := list()
	if !strings.Contains(s, "@"+aliveSet+" ct state established ct mark & 0x40000000 == 0x40000000 counter") {
		t.Fatalf("the fast-path rule does not need the alive element:\n%s", s)
	}
	hasElem := func(s string) bool { return strings.Contains(s, "elements = {") }
	if !hasElem(s) {
		t.Fatalf("no alive element after Install:\n%s", s)
	}
	for range 3 {
		time.Sleep(AliveTimeout / 2)
		if err := inst.FastpathAlive(); err != nil {
			t.Fatal(err)
		}
	}
	if !hasElem(list()) {
		t.Fatal("the renewed element expired")
	}
	time.Sleep(AliveTimeout + 300*time.Millisecond)
	if s := list(); hasElem(s) {
		t.Fatalf("the element outlived its timeout without renewal:\n%s", s)
	}
	// Renewing an expired element brings the fast path back.
	if err := inst.FastpathAlive(); err != nil {
		t.Fatal(err)
	}
	if !hasElem(list()) {
		t.Fatal("no element after renewing an expired one")
	}
	// With bypass there is no alive element to keep.
	inst2, _ := fastpathTable(t, fd, name, true)
	if strings.Contains(list(), aliveSet) {
		t.Error("a table with bypass has the alive set")
	}
	if err := inst2.FastpathAlive(); err != nil {
		t.Error(err)
	}
}
