package kernel

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
)

// linkCountingView is a kernelView that counts LinkByName calls: each is
// a netlink request (RTM_GETLINK) on the real kernel.
type linkCountingView struct {
	*fakeKernel
	linkByName int
}

func (v *linkCountingView) LinkByName(name string) (netlink.Link, error) {
	v.linkByName++
	return v.fakeKernel.LinkByName(name)
}

// TestTranslateLooksUpEachCEInterfaceOnce: translate asks the kernel for
// a CE interface's index once per Apply, not once per route through it.
// A VRF's static routes all leave by its CE interface, and every Apply
// translates every VRF: with a request per route, an Apply of 2,000 VRFs
// with ten routes each sent 20,000 link requests (BenchmarkKernelScale).
func TestTranslateLooksUpEachCEInterfaceOnce(t *testing.T) {
	v := &linkCountingView{fakeKernel: newFakePE()}
	s := &fib.State{VRFs: map[string]*fib.VRF{}}
	devs := routeDevices{VRFs: map[string]int{}}
	for i, ifn := range []string{"ce1", "ce2"} {
		name := fmt.Sprintf("v%d", i)
		vrf := &fib.VRF{Name: name, Table: uint32(1000 + i), Interfaces: []string{ifn}, Routes: map[netip.Prefix]fib.Route{}}
		ce := netip.MustParseAddr(fmt.Sprintf("100.64.%d.2", i))
		link := netip.MustParsePrefix(fmt.Sprintf("100.64.%d.0/30", i))
		vrf.Routes[link] = fib.Route{Prefix: link, Interface: ifn}
		for j := range 9 {
			p := netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", j))
			vrf.Routes[p] = fib.Route{Prefix: p, Interface: ifn, NextHop: ce}
		}
		s.VRFs[name] = vrf
		devs.VRFs[name] = 10 + i
	}
	d := translate(s, devs, v)
	if len(d.errs) > 0 {
		t.Fatal(d.errs)
	}
	if n := len(d.routes); n != 2*(10+2) {
		t.Fatalf("%d routes, want %d (ten CE routes and two unreachable defaults a VRF)", n, 2*(10+2))
	}
	// Two CE interfaces, and the quarantine device's check.
	if v.linkByName > 3 {
		t.Errorf("translate sent %d link lookups for 2 CE interfaces (20 routes through them), want at most 3", v.linkByName)
	}
}
