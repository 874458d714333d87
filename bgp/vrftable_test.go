package bgp

import (
	"net/netip"
	"reflect"
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
	for _, v := range []any{prefixKey{}, candidate{}} {
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
	k := packPrefix(netip.MustParsePrefix("10.1.0.0/24"))
	tab := newVRFTable()
	for _, want := range [][]candidate{
		{c("65000:1", "192.0.2.1", 100)},
		{c("65000:1", "192.0.2.1", 100), c("65000:2", "192.0.2.2", 200)},
		{c("65000:1", "192.0.2.1", 100), c("65000:2", "192.0.2.2", 200), c("65000:3", "2001:db8::3", 300)},
		{c("65000:3", "2001:db8::3", 300)},
		{},
	} {
		tab.store(k, want)
		got := tab.candidates(k, nil)
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("stored %v, read back %v", want, got)
		}
		if n := tab.len(); n != min(len(want), 1) {
			t.Errorf("stored %d candidates: len = %d", len(want), n)
		}
		if len(want) < 2 && len(tab.others) != 0 {
			t.Errorf("stored %d candidates: others still holds %d", len(want), len(tab.others))
		}
	}
}
