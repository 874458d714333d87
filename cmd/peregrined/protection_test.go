package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestRemotePEProtection: the configuration's unprotected peers reach
// the FIB (fibConfig), and show output and metrics name each remote PE's
// protection: the tunnel's PE protected, the unprotected one unprotected,
// one just outside the unprotected prefix none.
func TestRemotePEProtection(t *testing.T) {
	cfg, err := config.Parse([]byte(`
router: {id: 192.0.2.1, asn: 65000}
vrfs: [{name: red, rd: '65000:1', interfaces: [ce1]}]
ipsec: {unprotected-peers: [10.0.3.0/24]}
dataplane: {mpls-interfaces: [core0], transport-labels: [{remote: 10.0.3.3, label: 16003}], local-transport-labels: [200001]}
`))
	if err != nil {
		t.Fatal(err)
	}
	fc := fibConfig(cfg)
	if len(fc.UnprotectedPeers) != 1 || fc.UnprotectedPeers[0] != netip.MustParsePrefix("10.0.3.0/24") ||
		len(fc.MPLSInterfaces) != 1 || fc.MPLSInterfaces[0] != "core0" {
		t.Fatalf("fibConfig: unprotected %v, mpls interfaces %v", fc.UnprotectedPeers, fc.MPLSInterfaces)
	}
	if l := fc.LocalTransportLabels; len(l) != 1 || l[0] != 200001 {
		t.Errorf("fibConfig: local transport labels %v, want [200001]", l)
	}
	if l, ok := fc.TransportLabels[netip.MustParseAddr("10.0.3.3")]; !ok || l != 16003 || len(fc.TransportLabels) != 1 {
		t.Errorf("fibConfig: transport labels %v", fc.TransportLabels)
	}
	key := make([]byte, 20)
	fc.Tunnels = []fib.Tunnel{{Remote: netip.MustParseAddr("10.0.0.2"),
		Out: &fib.SAParams{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: key}, In: &fib.SAParams{SPI: 0x2001, Cipher: esp.AES128GCM16, Key: key}}}
	fc.LocalAddress = netip.MustParseAddr("10.0.0.1")

	b := fake.New()
	r := fib.NewReconciler(b, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	r.SetConfig(fc)
	for i, pe := range []string{"10.0.0.2", "10.0.3.3", "10.0.4.4"} {
		r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 2, byte(i), 0}), 24),
			Remote: netip.MustParseAddr(pe), Labels: []mpls.Label{2000}})
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dp := newDataplane(r, b)
	var got []string
	for _, pe := range dp.remotePEs("red") {
		got = append(got, pe.addr.String()+" "+pe.protection)
	}
	if want := "10.0.0.2 protected, 10.0.3.3 unprotected, 10.0.4.4 none"; strings.Join(got, ", ") != want {
		t.Errorf("remote PEs: %s, want %s", strings.Join(got, ", "), want)
	}
	want := `
# HELP peregrine_remote_pe_protection 1 for each remote PE that VRF routes lead to, labelled with how its traffic leaves: protected (ESP), unprotected (plain MPLS) or none (dropped).
# TYPE peregrine_remote_pe_protection gauge
peregrine_remote_pe_protection{protection="none",remote="10.0.4.4"} 1
peregrine_remote_pe_protection{protection="protected",remote="10.0.0.2"} 1
peregrine_remote_pe_protection{protection="unprotected",remote="10.0.3.3"} 1
`
	if err := testutil.CollectAndCompare(&collector{dp: dp}, strings.NewReader(want), "peregrine_remote_pe_protection"); err != nil {
		t.Error(err)
	}
}
