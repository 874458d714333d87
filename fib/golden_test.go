package fib_test

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// checkGolden compares lines with testdata/name.golden, or rewrites the
// file under -update. The kernel backend's tests read the same files.
func checkGolden(t *testing.T, name string, lines []string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := diffLines(strings.Split(string(want), "\n"), strings.Split(got, "\n")); d != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, d)
	}
}

// twoVRFs is PE1 of the lab: red and blue reuse the same customer
// addresses; red allocates one label per VRF, blue one per prefix.
func twoVRFs() *fib.State {
	red := &fib.VRF{Name: "red", Table: 1000, Interfaces: []string{"ce1"}, Routes: map[netip.Prefix]fib.Route{}}
	blue := &fib.VRF{Name: "blue", Table: 1001, Interfaces: []string{"ce2", "ce2b"}, Routes: map[netip.Prefix]fib.Route{}}
	add := func(v *fib.VRF, r fib.Route) { v.Routes[r.Prefix] = r }
	for _, v := range []*fib.VRF{red, blue} {
		ce := v.Interfaces[0]
		add(v, fib.Route{Prefix: pfx("10.1.255.0/24"), Interface: ce})
		add(v, fib.Route{Prefix: pfx("10.1.0.0/24"), Interface: ce, NextHop: addr("10.1.255.2")})
		add(v, fib.Route{Prefix: pfx("2001:db8:1:ff::/64"), Interface: ce})
		add(v, fib.Route{Prefix: pfx("2001:db8:1::/64"), Interface: ce, NextHop: addr("2001:db8:1:ff::2")})
	}
	add(red, fib.Route{Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100), RD: rd("65000:2")})
	add(red, fib.Route{Prefix: pfx("2001:db8:2::/64"), Remote: addr("10.0.0.2"), Labels: labels(100), RD: rd("65000:2")})
	add(blue, fib.Route{Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.3"), Labels: labels(200), RD: rd("10.0.0.3:7")})
	add(blue, fib.Route{Prefix: pfx("2001:db8:2::/64"), Remote: addr("2001:db8::3"), Labels: labels(201), RD: rd("10.0.0.3:7")})
	return &fib.State{
		VRFs: map[string]*fib.VRF{"red": red, "blue": blue},
		Labels: map[mpls.Label]fib.LabelAction{
			1000: {Kind: fib.PopLookup, VRF: "red"},
			1001: {Kind: fib.PopForward, VRF: "blue", Interface: "ce2", NextHop: addr("10.1.255.2")},
			1002: {Kind: fib.PopForward, VRF: "blue", Interface: "ce2"},
			1003: {Kind: fib.PopForward, VRF: "blue", Interface: "ce2", NextHop: addr("2001:db8:1:ff::2")},
		},
		Tunnels: map[netip.Addr]*fib.Tunnel{
			addr("10.0.0.2"):    {Remote: addr("10.0.0.2"), UDP: true, Out: sa(0x1001), In: sa(0x2001)},
			addr("10.0.0.3"):    {Remote: addr("10.0.0.3"), Out: nil, In: &fib.SAParams{SPI: 0x2002, Cipher: esp.ChaCha20Poly1305, ESN: true, ReplayWindow: 1024, Key: testKey}},
			addr("2001:db8::3"): {Remote: addr("2001:db8::3")},
		},
		LocalAddress: addr("10.0.0.1"),
	}
}

// oddities holds what the reconciler builds more rarely: a static next
// hop it could not resolve to an interface, a label stack, an IPv4 route
// over an IPv6 next hop (RFC 5549), a VRF with no routes, a name too
// long for its device prefixes, and a route with nowhere to go.
func oddities() *fib.State {
	routes := map[netip.Prefix]fib.Route{}
	for _, r := range []fib.Route{
		{Prefix: pfx("0.0.0.0/0"), Remote: addr("10.0.0.2"), Labels: labels(16, 17, 18)},
		{Prefix: pfx("192.0.2.0/24"), NextHop: addr("198.51.100.1")},
		{Prefix: pfx("203.0.113.0/24"), Interface: "ce9", NextHop: addr("fe80::1")},
		{Prefix: pfx("198.18.0.0/15")},
	} {
		routes[r.Prefix] = r
	}
	return &fib.State{
		VRFs: map[string]*fib.VRF{
			"customer-number": {Name: "customer-number", Table: 1005, Interfaces: []string{"ce9"}, Routes: routes},
			"empty":           {Name: "empty", Table: 1006},
		},
		Labels: map[mpls.Label]fib.LabelAction{
			99999: {Kind: fib.PopForward, VRF: "customer-number", NextHop: addr("198.51.100.1")},
			16:    {Kind: fib.PopLookup, VRF: "customer-number"},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state *fib.State
	}{
		{"empty", &fib.State{}},
		{"two_vrfs", twoVRFs()},
		{"oddities", oddities()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, tc.name, fake.Lines(tc.state))
		})
	}
}
