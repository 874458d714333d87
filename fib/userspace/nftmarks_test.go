package userspace

import (
	"bytes"
	"encoding/binary"
	"maps"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// nftElements reads the map of marks back from the kernel: interface ->
// mark number; nil if the table is gone.
func nftElements(t *testing.T) map[string]uint32 {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var table *nftables.Table
	for _, tb := range tables {
		if tb.Name == nftTableName {
			table = tb
		}
	}
	if table == nil {
		return nil
	}
	set, err := c.GetSetByName(table, nftMapName)
	if err != nil {
		t.Fatal(err)
	}
	elems, err := c.GetSetElements(set)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for _, e := range elems {
		out[string(bytes.TrimRight(e.Key, "\x00"))] = binary.NativeEndian.Uint32(e.Val) >> markShift
	}
	return out
}

// TestNftMarksLeftoversAndReload: a new run's first sync replaces a
// crashed run's table whole; a later sync changes only what differs;
// remove deletes the table.
func TestNftMarksLeftoversAndReload(t *testing.T) {
	inNewNS(t, func(*netlink.Handle) {
		crashed := &nftMarks{}
		if err := crashed.sync(map[string]uint32{"ce-old": 64, "ce1": 70}); err != nil {
			t.Skipf("nftables unavailable: %v", err)
		}
		crashed.close() // no remove: as a SIGKILL leaves it
		n := &nftMarks{}
		defer n.close()
		want := map[string]uint32{"ce1": 64, "pg-red": 64}
		if err := n.sync(want); err != nil {
			t.Fatal(err)
		}
		if got := nftElements(t); !maps.Equal(got, want) {
			t.Errorf("after the first sync: %v, want %v (the crashed run's gone)", got, want)
		}
		flushes := n.flushes
		want = map[string]uint32{"ce1": 64, "pg-red": 64, "ce2": 65, "pg-blue": 65}
		if err := n.sync(want); err != nil {
			t.Fatal(err)
		}
		if got := nftElements(t); !maps.Equal(got, want) {
			t.Errorf("after adding blue: %v, want %v", got, want)
		}
		if n.flushes-flushes != 1 {
			t.Errorf("adding a VRF took %d nftables transactions, want 1", n.flushes-flushes)
		}
		if err := n.remove(); err != nil {
			t.Fatal(err)
		}
		if got := nftElements(t); got != nil {
			t.Errorf("after remove: %v, want no table", got)
		}
	})
}
