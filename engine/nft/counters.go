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

// plus is c and o added: one key's counts summed over families, tables
// and the tables replaced before.
func (c Counter) plus(o Counter) Counter {
	return Counter{Packets: c.Packets + o.Packets, Bytes: c.Bytes + o.Bytes}
}

// counterOf is the counts of a kernel counter object.
func counterOf(o *nftables.CounterObj) Counter {
	return Counter{Packets: o.Packets, Bytes: o.Bytes}
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
	out := Counters{Dropped: map[string]Counter{}, Unjudged: unj.plus(i.unjudgedBase)}
	for name, c := range i.base {
		out.Dropped[name] = c
	}
	for name, c := range cur {
		out.Dropped[name] = out.Dropped[name].plus(c)
	}
	if i.Layer2 {
		out.Layer2 = map[Layer2Key]Counter{}
		for _, m := range []map[Layer2Key]Counter{i.l2base, l2} {
			for k, c := range m {
				out.Layer2[k] = out.Layer2[k].plus(c)
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
				unj = unj.plus(counterOf(c))
				continue
			}
			rule, ok := i.ruleOf[c.Name]
			if !ok {
				continue
			}
			drops[rule] = drops[rule].plus(counterOf(c))
		}
	}
	return drops, unj, nil
}
