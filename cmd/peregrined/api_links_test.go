package main

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/vishvananda/netlink"
)

// TestInterfaceDocsReadTheHostOnce: /v1/interfaces reads the host's
// links and addresses once however many VRFs it lists (per interface,
// `show interfaces` timed out at 2,000 VRFs), and describes each
// interface from that one read.
func TestInterfaceDocsReadTheHostOnce(t *testing.T) {
	var vrfs []bgp.VRF
	counters := map[string]fib.VRFCounters{}
	for i := range 50 {
		name := fmt.Sprintf("v%d", i)
		vrfs = append(vrfs, bgp.VRF{Name: name, Interfaces: []string{"ce" + name}})
		counters[name] = fib.VRFCounters{}
	}
	dp := newDataplane(nil, statsBackend{Backend: fake.New(), stats: fib.Stats{VRFs: counters}})
	reads := 0
	dp.readLinks = func() hostLinks {
		reads++
		return hostLinks{
			byName: map[string]netlink.Link{
				"cev1": &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "cev1", Index: 7, MTU: 1500, Flags: net.FlagUp, OperState: netlink.OperUp}},
				"cev2": &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "cev2", Index: 8, MTU: 1400, Flags: net.FlagUp, OperState: netlink.OperDown}},
			},
			addrs: map[int][]netip.Prefix{7: {netip.MustParsePrefix("100.64.0.1/30"), netip.MustParsePrefix("fd00::1/64")}},
		}
	}
	docs := dp.interfaceDocs(vrfs)
	if reads != 1 {
		t.Errorf("%d reads of the host's links for %d VRFs, want 1", reads, len(vrfs))
	}
	if len(docs) != 2*len(vrfs) {
		t.Fatalf("%d interfaces, want %d", len(docs), 2*len(vrfs))
	}
	byName := map[string]string{}
	for _, d := range docs {
		byName[d.Name] = fmt.Sprintf("%s mtu %d %v", d.State, d.MTU, d.Addresses)
	}
	for name, want := range map[string]string{
		"cev1":            "up mtu 1500 [100.64.0.1/30 fd00::1/64]",
		"cev2":            "up, no carrier mtu 1400 []",
		"cev3":            "missing mtu 0 []",
		fib.TUNName("v1"): "missing mtu 0 []",
	} {
		if byName[name] != want {
			t.Errorf("%s: %q, want %q", name, byName[name], want)
		}
	}
}

// TestReadHostLinksLoopback: one real read finds lo, up, with its
// address.
func TestReadHostLinksLoopback(t *testing.T) {
	lo := readHostLinks().info("lo", "", "ce")
	if lo.State != "up" || !slices.Contains(lo.Addresses, netip.MustParsePrefix("127.0.0.1/8")) {
		t.Errorf("lo: %+v, want up with 127.0.0.1/8", lo)
	}
}
