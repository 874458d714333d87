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
