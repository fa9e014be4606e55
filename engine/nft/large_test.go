package nft

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// TestInstallLargePolicy: a policy of 40 zones and 200 rules compiles to
// a batch larger than netlink's default socket buffers; the kernel takes
// it, and a replace, in well under a second each.
func TestInstallLargePolicy(t *testing.T) {
	fd, _ := tempNetNS(t)
	var b strings.Builder
	b.WriteString("mode: enforce\nzones:\n")
	for i := range 40 {
		fmt.Fprintf(&b, "  z%d: {level: 2, cidrs: [10.%d.0.0/16, 10.%d.%d.0/24]}\n", i, i, 100+i, i)
	}
	b.WriteString("rules:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  - {name: r%d, from: z%d, to: [z%d, 192.168.%d.0/24], proto: tcp, dport: [%d, \"%d-%d\"]}\n", i, i%40, (i*7)%40, i, 1000+i, 2000+i, 2010+i)
	}
	b.WriteString("default: deny\n")
	pol, err := rules.Parse("big.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	prog := compile(pol, []family{fam4, fam6}, FilterConfig{LogGroup: 5}, nil)
	nr, ne := 0, 0
	for _, c := range prog.chains {
		nr += len(c.rules)
	}
	for _, s := range prog.sets {
		ne += len(s.elems)
	}
	t.Logf("%d chains, %d rules, %d sets, %d elements", len(prog.chains), nr, len(prog.sets), ne)
	start := time.Now()
	inst, err := Install(Config{QueueNum: 3, QueueCount: 2, Bypass: true, NetNS: fd, Policy: pol, Filter: FilterConfig{LogGroup: 5}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("install %v", time.Since(start))
	start = time.Now()
	if err := inst.Replace(pol); err != nil {
		t.Fatal(err)
	}
	t.Logf("replace %v", time.Since(start))
	if err := inst.Remove(); err != nil {
		t.Fatal(err)
	}
}
