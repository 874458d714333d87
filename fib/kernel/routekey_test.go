package kernel

import (
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

// oracleRouteKey is routeKey as fmt formatted it before it was built by
// appending: the oracle of TestRouteKeyMatchesFormatted.
func oracleRouteKey(r *netlink.Route) string {
	if r.Family == netlink.FAMILY_MPLS || r.MPLSDst != nil {
		if r.MPLSDst == nil {
			return "mpls ?"
		}
		return fmt.Sprintf("mpls %d", *r.MPLSDst)
	}
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	fam, metric := "inet", r.Priority
	if r.Family == netlink.FAMILY_V6 || (r.Dst != nil && r.Dst.IP.To4() == nil) {
		fam = "inet6"
		if metric == 1024 {
			metric = 0
		}
	}
	return fmt.Sprintf("%s %s table %d metric %d", fam, dst, r.Table, metric)
}

// TestRouteKeyMatchesFormatted: routeKey writes what fmt and
// net.IPNet.String write, for the destinations translate and the kernel
// give and for odd ones (16-byte IPv4 addresses and masks, masks not in
// canonical form, mismatched lengths).
func TestRouteKeyMatchesFormatted(t *testing.T) {
	label := 1048575
	dsts := []*net.IPNet{
		nil,
		defaultDst(netlink.FAMILY_V4),
		defaultDst(netlink.FAMILY_V6),
		{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
		{IP: net.ParseIP("10.1.2.3").To4(), Mask: net.CIDRMask(32, 32)},
		{IP: net.ParseIP("10.1.2.0"), Mask: net.CIDRMask(24, 32)},
		{IP: net.ParseIP("10.1.2.0"), Mask: net.CIDRMask(120, 128)},
		{IP: net.ParseIP("10.1.2.0").To4(), Mask: net.CIDRMask(64, 128)},
		{IP: net.ParseIP("10.1.2.0").To4(), Mask: net.IPMask{255, 0, 255, 0}},
		{IP: net.ParseIP("2001:db8::1"), Mask: net.CIDRMask(128, 128)},
		{IP: net.ParseIP("2001:db8:0:0:1::"), Mask: net.CIDRMask(80, 128)},
		{IP: net.ParseIP("::ffff:10.0.0.1"), Mask: net.CIDRMask(128, 128)},
		{IP: net.ParseIP("2001:db8::"), Mask: net.CIDRMask(24, 32)},
		{IP: net.IP{1, 2, 3}, Mask: net.CIDRMask(24, 32)},
	}
	var routes []*netlink.Route
	for _, d := range dsts {
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			for _, metric := range []int{0, 1024, 4278198272} {
				routes = append(routes, &netlink.Route{Family: fam, Dst: d, Table: 1000, Priority: metric})
			}
		}
	}
	routes = append(routes, &netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &label},
		&netlink.Route{Family: netlink.FAMILY_MPLS}, &netlink.Route{MPLSDst: &label, Table: 5})
	for _, r := range routes {
		if got, want := routeKey(r), oracleRouteKey(r); got != want {
			t.Errorf("routeKey(dst %v family %d metric %d) = %q, want %q", r.Dst, r.Family, r.Priority, got, want)
		}
	}
}
