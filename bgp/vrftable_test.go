package bgp

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

func TestPackedAddrRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "0.0.0.0", "2001:db8::1", "::ffff:192.0.2.1", "::"} {
		a := netip.MustParseAddr(s)
		if got := packAddr(a).addr(); got != a {
			t.Errorf("%s: round trip gives %s", s, got)
		}
	}
	for _, s := range []string{"10.0.0.0/8", "10.1.2.0/24", "0.0.0.0/0", "2001:db8::/32", "::ffff:10.0.0.0/104", "::/0"} {
		p := netip.MustParsePrefix(s)
		if got := packPrefix(p).prefix(); got != p {
			t.Errorf("%s: round trip gives %s", s, got)
		}
	}
	// The IPv4 address and its IPv4-mapped IPv6 form are different keys.
	if packPrefix(netip.MustParsePrefix("10.0.0.0/8")) == packPrefix(netip.MustParsePrefix("::ffff:10.0.0.0/8")) {
		t.Error("10.0.0.0/8 and ::ffff:10.0.0.0/8 pack to the same key")
	}
}

// hasPointers reports whether values of t hold any pointer.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Array:
		return hasPointers(t.Elem())
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	default:
		return false
	}
}

// TestVRFTableSlotsHoldNoPointers guards the reason the table is packed:
// a map whose keys and values hold no pointers is never scanned by the GC.
func TestVRFTableSlotsHoldNoPointers(t *testing.T) {
	for _, v := range []any{prefixKey{}, candidate{}, v4Key(0), v4Candidate{}} {
		if hasPointers(reflect.TypeOf(v)) {
			t.Errorf("%T holds a pointer", v)
		}
	}
	if !hasPointers(reflect.TypeOf(netip.Addr{})) {
		t.Error("hasPointers misses netip.Addr's zone pointer")
	}
}

func TestVRFTableStore(t *testing.T) {
	rd := func(s string) vpn.RD {
		r, err := vpn.ParseRD(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	c := func(r, nh string, label uint32) candidate {
		return candidate{rd: rd(r), nextHop: packAddr(netip.MustParseAddr(nh)), label: mpls.Label(label)}
	}
	v4a, v4b, v6 := c("65000:1", "192.0.2.1", 100), c("65000:2", "192.0.2.2", 200), c("65000:3", "2001:db8::3", 300)
	// Each sequence moves a prefix's first candidate between the v4 map
	// (IPv4 prefix, IPv4 next hop) and the general one, and back.
	sequence := [][]candidate{{v4a}, {v4a, v4b}, {v4a, v4b, v6}, {v6}, {v6, v4a}, {v4b}, {}}
	for _, ps := range []string{"10.1.0.0/24", "0.0.0.0/0", "255.255.255.255/32", "2001:db8:1::/48", "::ffff:10.1.0.0/120"} {
		k := packPrefix(netip.MustParsePrefix(ps))
		_, is4 := v4KeyOf(k)
		tab := newVRFTable()
		// A neighbour in each map, which no store of k may disturb.
		tab.store(packPrefix(netip.MustParsePrefix("10.9.0.0/16")), []candidate{v4a})
		tab.store(packPrefix(netip.MustParsePrefix("2001:db8:9::/48")), []candidate{v6})
		for _, want := range sequence {
			tab.store(k, want)
			got := tab.candidates(k, nil)
			if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
				t.Errorf("%s: stored %v, read back %v", ps, want, got)
			}
			if n := tab.len(); n != 2+min(len(want), 1) {
				t.Errorf("%s: stored %d candidates: len = %d", ps, len(want), n)
			}
			if len(want) < 2 && len(tab.others) != 0 {
				t.Errorf("%s: stored %d candidates: others still holds %d", ps, len(want), len(tab.others))
			}
			inV4 := len(want) > 0 && is4 && want[0].nextHop.is4
			if got := len(tab.v4) == 2; got != inV4 {
				t.Errorf("%s, first candidate %v: in the v4 map %v, want %v", ps, want, got, inV4)
			}
			var listed []string
			tab.installed(func(p netip.Prefix, _ candidate) { listed = append(listed, p.String()) })
			if len(listed) != tab.len() || (len(want) > 0 && !slices.Contains(listed, ps)) {
				t.Errorf("%s: installed lists %v", ps, listed)
			}
		}
	}
}
