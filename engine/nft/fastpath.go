package nft

import (
	"bytes"
	"fmt"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// fastpathTag is the user data of the fast-path rule, by which its counter
// is found again.
var fastpathTag = []byte("conduit:fastpath")

// The fast path of a fail-closed table (no bypass) holds only while the
// daemon is alive: the rule also needs the element of the aliveSet, which
// expires aliveTimeout after the daemon last refreshed it (FastpathAlive).
// When the daemon dies, offloaded flows fall back to the queue that has no
// reader, and are dropped like everything else.
const (
	aliveSet     = "fastpath_alive"
	AliveTimeout = time.Second
)

var aliveKey = []byte{1, 0, 0, 0}

func aliveSetOf(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: aliveSet, KeyType: nftables.TypeInteger, HasTimeout: true, Timeout: AliveTimeout}
}

// addFastpath puts the fast-path rule in the program's forward chain and,
// with alive, the alive set in its sets, so that a reload's in-place
// refill replaces both with the rest of the table.
func (p *program) addFastpath(alive bool) {
	p.fastpath, p.alive = true, alive
	if alive {
		set := aliveSetOf(nil)
		p.sets = append(p.sets, &setSpec{set: *set, elems: []nftables.SetElement{{Key: aliveKey, Timeout: AliveTimeout}}})
	}
}

// fastpathRule accepts, without queueing, the established packets of a
// connection whose mark has CtMarkFastpath: flows conduit has decided for
// good and handed to the kernel. It counts them (status, metrics). A
// connection the kernel does not consider established (new, invalid,
// related, untracked) goes on as before, whatever its mark. With alive,
// the rule holds only while the daemon refreshes the alive element.
func fastpathRule(alive bool) []expr.Any {
	var exprs []expr.Any
	if alive {
		exprs = append(exprs,
			&expr.Immediate{Register: 1, Data: aliveKey},
			&expr.Lookup{SourceRegister: 1, SetName: aliveSet})
	}
	return append(exprs, fastpathMatch()...)
}

// isFastpathRule recognises the rule by the packet mark it sets, which no
// other rule of the table does.
func isFastpathRule(ex []expr.Any) bool {
	for _, e := range ex {
		if m, ok := e.(*expr.Meta); ok && m.Key == expr.MetaKeyMARK && m.SourceRegister {
			return true
		}
	}
	return false
}

// FastpathAlive renews the alive element of a fail-closed table's fast
// path; call it well within AliveTimeout. It does nothing for a table
// with bypass or without the fast path.
func (i *Installed) FastpathAlive() error {
	if !i.cfg.Fastpath || i.cfg.Bypass {
		return nil
	}
	conn, err := dial(i.cfg)
	if err != nil {
		return err
	}
	for _, fam := range i.families {
		set := aliveSetOf(&nftables.Table{Name: TableName, Family: fam})
		// Add (a no-op when present), delete and add again in one
		// transaction: a fresh timeout whether or not it had expired.
		el := []nftables.SetElement{{Key: aliveKey, Timeout: AliveTimeout}}
		if err := conn.SetAddElements(set, el); err != nil {
			return err
		}
		if err := conn.SetDeleteElements(set, el); err != nil {
			return err
		}
		if err := conn.SetAddElements(set, el); err != nil {
			return err
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("renew the fast path's alive element: %w", err)
	}
	return nil
}

func fastpathMatch() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(CtMarkFastpath), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(CtMarkFastpath)},
		&expr.Counter{},
		// The packet is conduit's decision, taken for its flow: it carries
		// MarkJudged like a packet conduit gave a verdict to, so that a
		// later chain counting the kernel's own accepts leaves it out.
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^MarkJudged), Xor: binaryutil.NativeEndian.PutUint32(MarkJudged)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}
}

// FastpathCounter reads the packets and bytes the kernel accepted on the
// fast path, summed over the table's families. ok is false when the table
// has no fast-path rule.
func (i *Installed) FastpathCounter() (packets, bytesN uint64, ok bool, err error) {
	conn, err := dial(i.cfg)
	if err != nil {
		return 0, 0, false, err
	}
	for _, fam := range i.families {
		t := &nftables.Table{Name: TableName, Family: fam}
		rules, err := conn.GetRules(t, &nftables.Chain{Name: "forward", Table: t})
		if err != nil {
			return 0, 0, false, fmt.Errorf("read the fast-path counter: %w", err)
		}
		for _, r := range rules {
			if !bytes.Equal(r.UserData, fastpathTag) {
				continue
			}
			for _, e := range r.Exprs {
				if c, isCounter := e.(*expr.Counter); isCounter {
					packets += c.Packets
					bytesN += c.Bytes
					ok = true
				}
			}
		}
	}
	return packets, bytesN, ok, nil
}
