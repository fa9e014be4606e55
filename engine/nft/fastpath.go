package nft

import (
	"bytes"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// fastpathTag is the user data of the fast-path rule, by which its counter
// is found again.
var fastpathTag = []byte("conduit:fastpath")

// fastpathRule accepts, without queueing, the established packets of a
// connection whose mark has CtMarkFastpath: flows conduit has decided for
// good and handed to the kernel. It counts them (status, metrics). A
// connection the kernel does not consider established (new, invalid,
// related, untracked) is queued as before, whatever its mark.
func fastpathRule(t *nftables.Table, ch *nftables.Chain) *nftables.Rule {
	return &nftables.Rule{Table: t, Chain: ch, UserData: fastpathTag, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(CtMarkFastpath), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(CtMarkFastpath)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}}
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
