package nft

import (
	"io"
	"log/slog"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// headRule returns the verdict and comment of the first rule of the
// forward chain of each conduit table, and how many rules the chain has.
func headRules(t *testing.T, fd int) (verdicts []expr.VerdictKind, comments []string, rules int) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conduitTables(conn, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range tables {
		rs, err := conn.GetRules(tbl, &nftables.Chain{Name: chainName, Table: tbl})
		if err != nil {
			t.Fatalf("GetRules: %v", err)
		}
		rules += len(rs)
		if len(rs) == 0 {
			continue
		}
		kind := expr.VerdictKind(-100) // none
		for _, e := range rs[0].Exprs {
			if v, ok := e.(*expr.Verdict); ok {
				kind = v.Kind
			}
		}
		c, _ := userdata.GetString(rs[0].UserData, userdata.TypeComment)
		verdicts, comments = append(verdicts, kind), append(comments, c)
	}
	return verdicts, comments, rules
}

// TestDivertAndRemoveAll: Divert puts the stop's verdict first in every
// conduit table without replacing the table, Install replaces a diverted
// table with a clean one, and RemoveAll deletes whatever is there.
func TestDivertAndRemoveAll(t *testing.T) {
	fd, _ := tempNetNS(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if n, err := Divert(fd, true); n != 0 || err != nil {
		t.Fatalf("Divert without a table = %d, %v; want 0, nil", n, err)
	}
	cfg := Config{QueueNum: 7, QueueCount: 2, NetNS: fd}
	inst, err := Install(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	_, _, base := headRules(t, fd)
	for _, tc := range []struct {
		drop    bool
		verdict expr.VerdictKind
		comment string
	}{
		{true, expr.VerdictDrop, DivertDropComment},
		{false, expr.VerdictAccept, DivertAcceptComment},
	} {
		if n, err := Divert(fd, tc.drop); n != len(inst.families) || err != nil {
			t.Fatalf("Divert(drop %v) = %d, %v; want %d tables", tc.drop, n, err, len(inst.families))
		}
		vs, cs, n := headRules(t, fd)
		if n != base+len(inst.families) {
			t.Errorf("Divert(drop %v): %d rules, want %d (the table's own stay)", tc.drop, n, base+len(inst.families))
		}
		for i := range vs {
			if vs[i] != tc.verdict || cs[i] != tc.comment {
				t.Errorf("Divert(drop %v): first rule verdict %d comment %q, want %d %q", tc.drop, vs[i], cs[i], tc.verdict, tc.comment)
			}
		}
		// The next start replaces the diverted table with a clean one.
		if inst, err = Install(cfg, log); err != nil {
			t.Fatal(err)
		}
		if _, _, n := headRules(t, fd); n != base {
			t.Errorf("Install over a diverted table: %d rules, want %d", n, base)
		}
		if num, total, _ := readQueueRule(t, fd, inst); num != 7 || total != 2 {
			t.Errorf("queue rule after the replacement: num %d total %d", num, total)
		}
	}
	if err := inst.Divert(true); err != nil {
		t.Fatal(err)
	}
	fams, err := RemoveAll(fd)
	if err != nil || len(fams) != len(inst.families) {
		t.Fatalf("RemoveAll = %v, %v", fams, err)
	}
	if ok, _ := Present(fd); ok {
		t.Fatal("table present after RemoveAll")
	}
	if fams, err := RemoveAll(fd); fams != nil || err != nil {
		t.Fatalf("RemoveAll without a table = %v, %v", fams, err)
	}
}
