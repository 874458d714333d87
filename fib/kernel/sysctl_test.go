package kernel

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestSysctlWrites: net.mpls.conf.IF.input per interface, on a PE with
// a loopback, two core-side interfaces, two CE interfaces (one enslaved
// to a VRF device, one quarantined), the VRF device and the ESP
// gateway's inbound TUN.
func TestSysctlWrites(t *testing.T) {
	links := []netlink.Link{
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "lo", Index: 1}},
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "core", Index: 2}},
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "mgmt", Index: 3}},
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "ce1", Index: 4, MasterIndex: 10}},
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "ce9", Index: 5, MasterIndex: 11}}, // quarantined
		&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "vrf-red", Index: 10}},
		&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: QuarantineDevice, Index: 11}},
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: fib.ESPGatewayInbound, Index: 20}},
	}
	ce := map[string]bool{"ce1": true}
	for _, tc := range []struct {
		name  string
		state *fib.State
		espIn string
		want  string // input per interface, "-" for not written
	}{
		{"mpls-interfaces named, no IPsec", &fib.State{MPLSInterfaces: []string{"core"}}, "",
			"lo=0 core=1 mgmt=0 ce1=0 ce9=0 vrf-red=0 " + QuarantineDevice + "=0 " + fib.ESPGatewayInbound + "=0"},
		{"mpls-interfaces named, with the ESP gateway", &fib.State{MPLSInterfaces: []string{"core"}}, fib.ESPGatewayInbound,
			"lo=0 core=1 mgmt=0 ce1=0 ce9=0 vrf-red=0 " + QuarantineDevice + "=0 " + fib.ESPGatewayInbound + "=1"},
		{"a CE interface named as core still gets 0", &fib.State{MPLSInterfaces: []string{"core", "ce1"}}, "",
			"lo=0 core=1 mgmt=0 ce1=0 ce9=0 vrf-red=0 " + QuarantineDevice + "=0 " + fib.ESPGatewayInbound + "=0"},
		{"ESP gateway alone (as before)", &fib.State{}, fib.ESPGatewayInbound,
			"lo=0 core=0 mgmt=0 ce1=0 ce9=0 vrf-red=0 " + QuarantineDevice + "=0 " + fib.ESPGatewayInbound + "=1"},
		{"nothing named, no IPsec (as before): every non-CE interface", &fib.State{}, "",
			"lo=- core=1 mgmt=1 ce1=- ce9=- vrf-red=- " + QuarantineDevice + "=- " + fib.ESPGatewayInbound + "=1"},
		{"own transport labels: lo takes what they pop", &fib.State{MPLSInterfaces: []string{"core"}, LocalTransportLabels: []mpls.Label{100001}}, "",
			"lo=1 core=1 mgmt=0 ce1=0 ce9=0 vrf-red=0 " + QuarantineDevice + "=0 " + fib.ESPGatewayInbound + "=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sysctlWrites(tc.state, links, ce, tc.espIn)
			var got []string
			for _, l := range links {
				v, ok := w["net/mpls/conf/"+l.Attrs().Name+"/input"]
				if !ok {
					v = "-"
				}
				got = append(got, l.Attrs().Name+"="+v)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
			if len(tc.state.LocalTransportLabels) > 0 && w["net/mpls/platform_labels"] != "100002" {
				t.Errorf("platform_labels %s, want 100002: room for the own transport label 100001", w["net/mpls/platform_labels"])
			}
			for _, k := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/mpls/platform_labels"} {
				if _, ok := w[k]; !ok {
					t.Errorf("%s not written; wrote %v", k, slices.Sorted(maps.Keys(w)))
				}
			}
		})
	}
}
