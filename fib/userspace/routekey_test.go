package userspace

import (
	"net/netip"
	"reflect"
	"testing"
	"unsafe"
)

// hasPointers reports whether a value of t holds a pointer the garbage
// collector must follow.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}

// TestInstalledRouteEntrySize (issue 23): the routes syncRoutes keeps
// between Applies, a score per VRF, are pointer-free map entries of at
// most 56 bytes (they were 88, with a pointer in each netip.Prefix and
// netip.Addr).
func TestInstalledRouteEntrySize(t *testing.T) {
	size := unsafe.Sizeof(routeKey{}) + unsafe.Sizeof(routeVal{})
	if size > 56 {
		t.Errorf("routeKey+routeVal: %d bytes, want at most 56", size)
	}
	for _, v := range []any{routeKey{}, routeVal{}} {
		if typ := reflect.TypeOf(v); hasPointers(typ) {
			t.Errorf("%v holds a pointer: the installed routes' map is scanned by every collection", typ)
		}
	}
}

// TestRawPrefixRoundTrip: rawPrefix and rawAddr give back the prefixes
// and addresses they were made of, IPv4, IPv4-mapped IPv6 and IPv6 kept
// apart, the invalid ones invalid.
func TestRawPrefixRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0/0", "10.1.2.0/24", "192.0.2.1/32", "::/0", "2001:db8::/32", "::ffff:10.0.0.0/104", "fe80::1/128"} {
		p := netip.MustParsePrefix(s)
		if got := rawPrefixOf(p).prefix(); got != p {
			t.Errorf("%s: round trip gave %s", s, got)
		}
	}
	if got := rawPrefixOf(netip.Prefix{}).prefix(); got.IsValid() {
		t.Errorf("invalid prefix: round trip gave %s", got)
	}
	for _, s := range []string{"10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1"} {
		a := netip.MustParseAddr(s)
		if got := rawAddrOf(a).addr(); got != a {
			t.Errorf("%s: round trip gave %s", s, got)
		}
	}
	if rawAddrOf(netip.MustParseAddr("10.0.0.1")) == rawAddrOf(netip.MustParseAddr("::ffff:10.0.0.1")) {
		t.Error("10.0.0.1 and ::ffff:10.0.0.1 have the same rawAddr")
	}
	if got := rawAddrOf(netip.Addr{}).addr(); got.IsValid() {
		t.Errorf("invalid address: round trip gave %s", got)
	}
}
