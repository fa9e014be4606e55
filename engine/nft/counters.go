package nft

import (
	"fmt"

	"github.com/google/nftables"
)

// Counter is a kernel counter's packets and bytes.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Counters are what the kernel counted: drops of the pre-filter by rule
// name ("default" included), since Install; and the packets accepted
// without a verdict from conduit (Unjudged), likewise.
type Counters struct {
	Dropped  map[string]Counter
	Unjudged Counter
	// Layer2 counts the bridge table's frames by EtherType and verdict
	// (layer2.go), likewise; nil without the bridge table.
	Layer2 map[Layer2Key]Counter
}

// Counters reads the kernel's counters, summed over the table's families.
func (i *Installed) Counters() (Counters, error) {
	conn, err := dial(i.cfg)
	if err != nil {
		return Counters{}, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	var cur map[string]Counter
	var l2 map[Layer2Key]Counter
	var unj Counter
	if !i.removed {
		if cur, unj, err = i.readLocked(conn); err != nil {
			return Counters{}, err
		}
		if l2, err = i.readL2Locked(conn); err != nil {
			return Counters{}, err
		}
	}
	unj.Packets += i.unjudgedBase.Packets
	unj.Bytes += i.unjudgedBase.Bytes
	out := Counters{Dropped: map[string]Counter{}, Unjudged: unj}
	for name, c := range i.base {
		out.Dropped[name] = c
	}
	for name, c := range cur {
		b := out.Dropped[name]
		b.Packets += c.Packets
		b.Bytes += c.Bytes
		out.Dropped[name] = b
	}
	if i.Layer2 {
		out.Layer2 = map[Layer2Key]Counter{}
		for _, m := range []map[Layer2Key]Counter{i.l2base, l2} {
			for k, c := range m {
				b := out.Layer2[k]
				b.Packets += c.Packets
				b.Bytes += c.Bytes
				out.Layer2[k] = b
			}
		}
	}
	return out, nil
}

// readLocked reads the drop counters of the table in force by rule name,
// and the unjudged counter.
func (i *Installed) readLocked(conn *nftables.Conn) (map[string]Counter, Counter, error) {
	drops := map[string]Counter{}
	var unj Counter
	for _, fam := range i.families {
		objs, err := conn.GetObjects(&nftables.Table{Name: TableName, Family: fam})
		if err != nil {
			return nil, Counter{}, fmt.Errorf("read nftables counters: %w", err)
		}
		for _, o := range objs {
			c, ok := o.(*nftables.CounterObj)
			if !ok {
				continue
			}
			if c.Name == unjudgedCounter {
				unj.Packets += c.Packets
				unj.Bytes += c.Bytes
				continue
			}
			rule, ok := i.ruleOf[c.Name]
			if !ok {
				continue
			}
			d := drops[rule]
			d.Packets += c.Packets
			d.Bytes += c.Bytes
			drops[rule] = d
		}
	}
	return drops, unj, nil
}
