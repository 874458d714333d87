package bgp

import (
	"context"
	"net/netip"
	"testing"
)

// TestAttachedExport: an up attachment's site prefixes are exported from
// its VRF with the VRF's label, the same prefix in another VRF stays
// apart, and they are withdrawn when the attachment goes down.
func TestAttachedExport(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	vrfs := `
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1']}
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:2']}
`
	pe1 := startSpeaker(t, speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, vrfs))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, vrfs)
	cfg2.Labels.First = 2000
	pe2 := startSpeaker(t, cfg2)
	ctx := context.Background()
	site := []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}
	if err := pe1.SetAttached(ctx, "red", site); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, pe2, "red", "10.9.0.0/24 via 127.0.0.1 label 1000 rd 65000:1; ")
	waitRoutes(t, pe2, "blue", "")
	if err := pe1.SetAttached(ctx, "blue", site); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, pe2, "blue", "10.9.0.0/24 via 127.0.0.1 label 1001 rd 65000:2; ")
	if err := pe1.SetAttached(ctx, "red", nil); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, pe2, "red", "")
	waitRoutes(t, pe2, "blue", "10.9.0.0/24 via 127.0.0.1 label 1001 rd 65000:2; ")
}

// TestAttachedToCEs: the up attachments of red reach red's own CEs on
// this PE with next-hop self and the provider AS, both those up before
// the CE session (ceResync) and those that come up after (SetAttached),
// pool leases (host routes) as site prefixes; a CE whose export-prefixes
// deny a prefix does not get it; another VRF's attachment reaches no CE
// of red; and all are withdrawn when the attachments go down.
func TestAttachedToCEs(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, _ := policyPEs(t, "", "")
	ctx := context.Background()
	site := netip.MustParsePrefix("10.9.0.0/24")
	if err := pe1.SetAttached(ctx, "red", []netip.Prefix{site}); err != nil {
		t.Fatal(err)
	}
	port1, port2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4")
	ce2 := policyCE(t, "127.0.0.4", port2, 65102, "ipv4")
	n1, n2 := ceNeighborAt("127.0.0.3", port1, 65101), ceNeighborAt("127.0.0.4", port2, 65102)
	n2.ExportPrefixes = rules("10.9.0.0/24 24..24 deny", "0.0.0.0/0 0..32 accept")
	applyCE(t, pe1, cfg1, n1, n2)
	rib := waitReceived(t, ce1, "ce1", "ipv4", "10.9.0.0/24")
	if r := rib["10.9.0.0/24"]; r != "65000 via 127.0.0.1" {
		t.Errorf("ce1 10.9.0.0/24: %q, want the provider AS via the PE", r)
	}
	waitReceived(t, ce2, "ce2", "ipv4")

	// A lease comes up beside the site; blue's attachment is not red's.
	lease := netip.MustParsePrefix("10.77.0.10/32")
	if err := pe1.SetAttached(ctx, "red", []netip.Prefix{site, lease}); err != nil {
		t.Fatal(err)
	}
	if err := pe1.SetAttached(ctx, "blue", []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	rib = waitReceived(t, ce1, "ce1", "ipv4", "10.9.0.0/24", "10.77.0.10/32")
	if r := rib["10.77.0.10/32"]; r != "65000 via 127.0.0.1" {
		t.Errorf("ce1 10.77.0.10/32: %q, want the provider AS via the PE", r)
	}
	waitReceived(t, ce2, "ce2", "ipv4", "10.77.0.10/32")

	// The lease goes, then the attachment.
	if err := pe1.SetAttached(ctx, "red", []netip.Prefix{site}); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce1, "ce1", "ipv4", "10.9.0.0/24")
	waitReceived(t, ce2, "ce2", "ipv4")
	if err := pe1.SetAttached(ctx, "red", nil); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce1, "ce1", "ipv4")
	waitReceived(t, ce2, "ce2", "ipv4")
}
