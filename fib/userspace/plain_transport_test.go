package userspace

import (
	"testing"

	"github.com/peregrine-net/peregrine/mpls"
	"golang.org/x/sys/unix"
)

// TestInboundOwnTransportLabel: a far PE that pushes a label toward this
// directly connected PE (FRR 8.4's iBGP next hop through a staticd route
// with a label) reaches the VRF once that label is one of
// State.LocalTransportLabels, popped; an unknown label on top still
// drops, a transport label alone or twice is no VPN label, and the
// labels a reload drops stop being popped.
func TestInboundOwnTransportLabel(t *testing.T) {
	s := mixedState()
	s.LocalTransportLabels = []mpls.Label{100001, 1001} // 1001 is red's VPN label: stays one
	d := newTestDataplane(t, s)
	red := d.vrfs["red"]
	p4 := ipv4("10.3.0.2", "10.1.0.2", 64, 100)
	vpn := mpls.Entry{Label: 1001, TTL: 60}
	own := mpls.Entry{Label: 100001, TTL: 55}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  drop
	}{
		{"own transport label above the VPN label", frameOf(p4, own, vpn), dropNone},
		{"another label above the VPN label", frameOf(p4, mpls.Entry{Label: 100002, TTL: 55}, vpn), dropUnknownLabel},
		{"own transport label alone", frameOf(p4, mpls.Entry{Label: 100001, TTL: 55}), dropUnknownLabel},
		{"own transport label twice", frameOf(p4, own, own, vpn), dropUnknownLabel},
		{"explicit null above own transport label", frameOf(p4, mpls.Entry{Label: 0, TTL: 60}, own, vpn), dropUnknownLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := inFrameBuf(tc.frame)
			v, io, il, why := d.inboundFrame(testCore, buf, inHeadroom, len(tc.frame), unix.PACKET_HOST)
			if why != tc.want {
				t.Fatalf("drop %d, want %d", why, tc.want)
			}
			if why != dropNone {
				return
			}
			if v != red || il != 100 || buf[io+8] != 55 {
				t.Errorf("VRF %s, inner length %d TTL %d; want red, 100, 55 (uniform: the smaller label TTL)", v.name, il, buf[io+8])
			}
		})
	}
	if got := (*d.lfib.Load())[1001]; got != red {
		t.Errorf("label 1001 is %v, want red's VPN label", got)
	}

	f := frameOf(p4, own, vpn)
	in := inFrameBuf(f)
	assertNoAllocs(t, "inboundFrame with an own transport label", func() {
		if _, _, _, why := d.inboundFrame(testCore, in, inHeadroom, len(f), unix.PACKET_HOST); why != dropNone {
			t.Fatalf("drop %d", why)
		}
	})

	s2 := mixedState()
	if _, _, err := d.update(s2, nil); err != nil {
		t.Fatal(err)
	}
	buf := inFrameBuf(f)
	if _, _, _, why := d.inboundFrame(testCore, buf, inHeadroom, len(f), unix.PACKET_HOST); why != dropUnknownLabel {
		t.Errorf("after a reload without it, the own transport label: drop %d, want unknown-label", why)
	}
}
