package userspace

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The marks the rule tree looks for (marks.go) are set by one nftables
// rule, before the routing decision, in a table of the backend's own:
//
//	table inet peregrine {
//		map marks { type ifname : mark; elements = { "ce1" : 0x400000, "pg-red" : 0x410000, ... } }
//		chain mark { type filter hook prerouting priority mangle; policy accept;
//			meta mark set iifname map @marks }
//	}
//
// A hash lookup per packet, whatever the count of VRFs; a packet from an
// interface the map does not name (the core, the management network)
// keeps its mark. The mark is set whole, which clears a mark a packet
// could carry in from a CE's side (within one host, a veth keeps it).
// The table's name is how a run finds its own, a crashed run's
// included: the first sync replaces it, Close deletes it.
const (
	nftTableName = "peregrine"
	nftMapName   = "marks"
	nftChainName = "mark"
	// nftElemsPerFlush bounds the map elements of one nftables message:
	// a message must fit the netlink socket's send buffer (about 200 kB
	// by default; an element takes about 50 bytes).
	nftElemsPerFlush = 1024
)

// nftMarks keeps the nftables map of marks equal to what Apply asks.
// Only Apply's goroutine (and Close) use it.
type nftMarks struct {
	conn  *nftables.Conn
	table *nftables.Table
	set   *nftables.Set
	// installed is what the map holds; nil when unknown (at start, after
	// an error): the next sync replaces the table whole.
	installed map[string]uint32
	// flushes counts the nftables transactions, for the test that a
	// reload of one VRF sends few.
	flushes int
}

// nftObjects are the table and the map, fresh for each nftMarks: the
// library writes into them. The map's ID, which names it to the rule of
// the same transaction, is set here: the library would take one from a
// global counter, unguarded between connections.
func nftObjects() (*nftables.Table, *nftables.Set) {
	t := &nftables.Table{Name: nftTableName, Family: nftables.TableFamilyINet}
	return t, &nftables.Set{Table: t, ID: 1, Name: nftMapName, IsMap: true, KeyType: nftables.TypeIFName, DataType: nftables.TypeMark}
}

// sync makes the map hold want (interface -> mark number). Its first call,
// and the first after an error, replaces the table in one transaction
// (with its first elements), removing a crashed run's.
func (n *nftMarks) sync(want map[string]uint32) error {
	if err := n.open(); err != nil {
		return err
	}
	nftMap := n.set
	var add, del []nftables.SetElement
	old, replace := n.installed, n.installed == nil
	if replace {
		n.replaceTable()
		old = map[string]uint32{}
	}
	for _, name := range slices.Sorted(maps.Keys(old)) {
		if m, ok := want[name]; !ok || m != old[name] {
			del = append(del, nftables.SetElement{Key: ifnameKey(name)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if m, ok := old[name]; !ok || m != want[name] {
			add = append(add, nftables.SetElement{Key: ifnameKey(name), Val: binary.NativeEndian.AppendUint32(nil, fwmark(want[name]))})
		}
	}
	n.installed = nil // until every flush went through
	for len(del) > 0 || len(add) > 0 {
		d := del[:min(len(del), nftElemsPerFlush)]
		a := add[:min(len(add), nftElemsPerFlush-len(d))]
		del, add = del[len(d):], add[len(a):]
		if len(d) > 0 {
			if err := n.conn.SetDeleteElements(nftMap, d); err != nil {
				return fmt.Errorf("nftables: delete from map %s: %w", nftMapName, err)
			}
		}
		if len(a) > 0 {
			if err := n.conn.SetAddElements(nftMap, a); err != nil {
				return fmt.Errorf("nftables: add to map %s: %w", nftMapName, err)
			}
		}
		if err := n.flush(); err != nil {
			return err
		}
		replace = false
	}
	if replace { // a replaced table with no element
		if err := n.flush(); err != nil {
			return err
		}
	}
	n.installed = maps.Clone(want)
	return nil
}

// replaceTable queues, for the next flush, the deletion of the table
// (if any: adding it first makes the delete never fail) and its making
// anew: the map, the chain and its rule.
func (n *nftMarks) replaceTable() {
	c, nftTable, nftMap := n.conn, n.table, n.set
	c.AddTable(nftTable)
	c.DelTable(nftTable)
	c.AddTable(nftTable)
	// AddSet only queues its message; its error is for constant sets.
	_ = c.AddSet(nftMap, nil)
	accept := nftables.ChainPolicyAccept
	chain := c.AddChain(&nftables.Chain{
		Name: nftChainName, Table: nftTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle, Policy: &accept,
	})
	c.AddRule(&nftables.Rule{Table: nftTable, Chain: chain, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: nftMap.Name, SetID: nftMap.ID},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}})
}

// flush sends what is queued, as one transaction.
func (n *nftMarks) flush() error {
	n.flushes++
	if err := n.conn.Flush(); err != nil {
		n.installed = nil
		return fmt.Errorf("nftables: table inet %s: %w", nftTableName, err)
	}
	return nil
}

// remove deletes the table (a previous run's too) and closes the
// connection; packets go unmarked, to the fallback rules.
func (n *nftMarks) remove() error {
	if err := n.open(); err != nil {
		return err
	}
	n.conn.AddTable(n.table)
	n.conn.DelTable(n.table)
	err := n.flush()
	n.installed = nil
	return err
}

// open opens the connection on first use, in the calling thread's
// network namespace, as the netlink handles were (Apply's).
func (n *nftMarks) open() error {
	if n.conn != nil {
		return nil
	}
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	n.conn = c
	n.table, n.set = nftObjects()
	return nil
}

// close closes the connection.
func (n *nftMarks) close() {
	if n.conn != nil {
		_ = n.conn.CloseLasting()
		n.conn = nil
	}
}

// ifnameKey is an interface name as an ifname key: IFNAMSIZ bytes, zero
// padded, as `meta iifname` loads it.
func ifnameKey(name string) []byte {
	k := make([]byte, 16)
	copy(k, name)
	return k
}
