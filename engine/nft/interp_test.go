package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// vm evaluates a compiled program the way the kernel's nf_tables does, for
// the expressions the compiler emits: enough to check what a packet meets.
type vm struct {
	chains map[string][][]expr.Any
	sets   map[string]*setSpec

	// The packet: its IP header at 0, the transport header at th.
	pkt     []byte
	th      int
	nfproto byte
	l4proto byte
	ctState uint32
	mark    uint32

	counted []string // named counters the packet hit, in order
	logged  []string // NFLOG prefixes
	reg     []byte
}

func newVM(prog *program, queue expr.Any) *vm {
	v := &vm{chains: map[string][][]expr.Any{}, sets: map[string]*setSpec{}}
	for _, c := range prog.chains {
		v.chains[c.name] = c.rules
	}
	for _, s := range prog.sets {
		v.sets[s.set.Name] = s
	}
	v.chains["forward"] = forwardRules(queue, prog)
	return v
}

// verdict outcomes of a chain.
const (
	vReturn = "return"
	vDrop   = "drop"
	vAccept = "accept"
	vQueue  = "queue"
)

// decide runs the forward chain (policy accept).
func (v *vm) decide() string {
	v.counted, v.logged = nil, nil
	r := v.run("forward", 0)
	if r == vReturn {
		return vAccept
	}
	return r
}

func (v *vm) run(chain string, depth int) string {
	if depth > 16 {
		panic("chain depth")
	}
	rs, ok := v.chains[chain]
	if !ok {
		panic("no chain " + chain)
	}
	for _, r := range rs {
		kind, target := v.rule(r)
		switch kind {
		case "":
			continue
		case vReturn:
			return vReturn
		case "jump":
			if res := v.run(target, depth+1); res != vReturn {
				return res
			}
		case "goto":
			return v.run(target, depth+1)
		default:
			return kind
		}
	}
	return vReturn
}

// rule evaluates one rule: "" when it breaks or ends without a verdict.
func (v *vm) rule(ex []expr.Any) (string, string) {
	v.reg = nil
	for _, e := range ex {
		switch e := e.(type) {
		case *expr.Payload:
			base := 0
			if e.Base == expr.PayloadBaseTransportHeader {
				if v.th < 0 {
					return "", ""
				}
				base = v.th
			}
			off := base + int(e.Offset)
			if off+int(e.Len) > len(v.pkt) {
				return "", ""
			}
			v.reg = append([]byte{}, v.pkt[off:off+int(e.Len)]...)
		case *expr.Meta:
			switch e.Key {
			case expr.MetaKeyNFPROTO:
				v.reg = []byte{v.nfproto}
			case expr.MetaKeyL4PROTO:
				v.reg = []byte{v.l4proto}
			case expr.MetaKeyMARK:
				v.reg = binaryutil.NativeEndian.PutUint32(v.mark)
			default:
				panic(fmt.Sprintf("meta key %v", e.Key))
			}
		case *expr.Ct:
			if e.Key != expr.CtKeySTATE {
				panic(fmt.Sprintf("ct key %v", e.Key))
			}
			v.reg = binaryutil.NativeEndian.PutUint32(v.ctState)
		case *expr.Cmp:
			if len(v.reg) < len(e.Data) {
				panic("cmp on a short register")
			}
			eq := bytes.Equal(v.reg[:len(e.Data)], e.Data)
			if (e.Op == expr.CmpOpEq) != eq {
				return "", ""
			}
			if e.Op != expr.CmpOpEq && e.Op != expr.CmpOpNeq {
				panic("cmp op")
			}
		case *expr.Bitwise:
			out := make([]byte, e.Len)
			for i := range out {
				out[i] = v.reg[i]&e.Mask[i] ^ e.Xor[i]
			}
			v.reg = out
		case *expr.Lookup:
			s := v.sets[e.SetName]
			if s == nil {
				panic("no set " + e.SetName)
			}
			el, found := lookup(s, v.reg)
			if e.Invert {
				found = !found
			}
			if !found {
				return "", ""
			}
			if e.IsDestRegSet {
				vd := el.VerdictData
				switch vd.Kind {
				case expr.VerdictGoto:
					return "goto", vd.Chain
				case expr.VerdictJump:
					return "jump", vd.Chain
				}
				panic("map verdict")
			}
		case *expr.Objref:
			v.counted = append(v.counted, e.Name)
		case *expr.Counter, *expr.Limit:
		case *expr.Log:
			v.logged = append(v.logged, string(e.Data))
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictReturn:
				return vReturn, ""
			case expr.VerdictDrop:
				return vDrop, ""
			case expr.VerdictAccept:
				return vAccept, ""
			case expr.VerdictJump:
				return "jump", e.Chain
			case expr.VerdictGoto:
				return "goto", e.Chain
			}
			panic("verdict kind")
		case *expr.Queue, *expr.Target:
			return vQueue, ""
		default:
			panic(fmt.Sprintf("expression %T", e))
		}
	}
	return "", ""
}

// lookup finds key in s: an exact element, or for an interval set the
// interval whose start is the greatest not above key (and is not an end).
func lookup(s *setSpec, key []byte) (nftables.SetElement, bool) {
	if !s.set.Interval {
		for _, el := range s.elems {
			if bytes.Equal(el.Key, key[:len(el.Key)]) {
				return el, true
			}
		}
		return nftables.SetElement{}, false
	}
	var best *nftables.SetElement
	for i := range s.elems {
		el := &s.elems[i]
		if bytes.Compare(el.Key, key[:len(el.Key)]) <= 0 && (best == nil || bytes.Compare(el.Key, best.Key) >= 0) {
			if best != nil && bytes.Equal(el.Key, best.Key) && el.IntervalEnd {
				continue // a start and an end at one key: the start is the later interval
			}
			best = el
		}
	}
	if best == nil || best.IntervalEnd {
		return nftables.SetElement{}, false
	}
	return *best, true
}

// TestVMLookup pins the interpreter's interval semantics.
func TestVMLookup(t *testing.T) {
	s := &setSpec{set: nftables.Set{Interval: true}, elems: intervalElems([]ival{
		{lo: mustAddr("10.0.0.0"), hi: mustAddr("10.0.0.255")},
		{lo: mustAddr("10.0.2.0"), hi: mustAddr("255.255.255.255")},
	}, fam4)}
	for a, want := range map[string]bool{"9.255.255.255": false, "10.0.0.0": true, "10.0.0.255": true,
		"10.0.1.0": false, "10.0.2.0": true, "255.255.255.255": true} {
		if _, got := lookup(s, mustAddr(a).AsSlice()); got != want {
			t.Errorf("%s: %v, want %v", a, got, want)
		}
	}
	_ = binary.BigEndian
}
