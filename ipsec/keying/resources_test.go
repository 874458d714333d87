package keying

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
)

// TestResourceChildrenTunnel: a per-resource child (RFC 9611) is a lane
// of its own in fib.Tunnel.Resources beside the first child, keeps its
// place when rekeyed, and takes the first place when the first child
// goes. A new extra child opens at once but seals only after
// OutSwitchDelay, and the FIB is given that switch.
func TestResourceChildrenTunnel(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	rec := &fibRecorder{}
	s := start(t, Options{FIB: rec, OutSwitchDelay: 100 * time.Millisecond, RetireGrace: time.Hour,
		Remotes: map[string]netip.Addr{"pe2": pe2}})
	now := time.Now()
	tunnel := func() fib.Tunnel {
		t.Helper()
		fc, _ := rec.config()
		if len(fc.Tunnels) != 1 {
			t.Fatalf("tunnels %+v", fc.Tunnels)
		}
		return fc.Tunnels[0]
	}
	spis := func(tn fib.Tunnel) (out, in uint32, res [][2]uint32) {
		if tn.Out != nil {
			out = tn.Out.SPI
		}
		if tn.In != nil {
			in = tn.In.SPI
		}
		for _, r := range tn.Resources {
			var p [2]uint32
			if r.Out != nil {
				p[0] = r.Out.SPI
			}
			if r.In != nil {
				p[1] = r.In.SPI
			}
			res = append(res, p)
		}
		return
	}
	waitOut := func(want uint32) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, _, res := spis(tunnel()); len(res) == 1 && res[0][0] == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("resource 1 never sealed with %#x: %+v", want, tunnel())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	c1 := testChild("pe2", pe2, 0xa1, 0xb1, now.Add(-time.Minute))
	s.ChildUp(c1)
	r1 := testChild("pe2", pe2, 0xa2, 0xb2, now)
	r1.Resource = true
	s.ChildUp(r1)
	if out, in, res := spis(tunnel()); out != 0xb1 || in != 0xa1 || len(res) != 1 || res[0] != [2]uint32{0, 0xa2} {
		t.Fatalf("right after the extra child: out %#x in %#x resources %#x, want b1/a1 and [0 a2] (opens, seals later)", out, in, res)
	}
	waitOut(0xb2)
	r2 := testChild("pe2", pe2, 0xa3, 0xb3, time.Now())
	r2.Resource, r2.Replaces = true, r1.InSPI
	s.ChildUp(r2)
	if out, in, res := spis(tunnel()); out != 0xb1 || in != 0xa1 || len(res) != 1 || res[0] != [2]uint32{0xb2, 0xa3} {
		t.Fatalf("right after the extra child's rekey: out %#x in %#x resources %#x, want b1/a1 and [b2 a3]", out, in, res)
	}
	waitOut(0xb3)
	s.ChildDown(r1)
	s.ChildDown(c1)
	tn := tunnel()
	if out, in, res := spis(tn); out != 0xb3 || in != 0xa3 || len(res) != 0 {
		t.Fatalf("with the first child gone: out %#x in %#x resources %#x, want the extra child b3/a3 alone", out, in, res)
	}
	if len(tn.RetiringIn) != 2 {
		t.Errorf("retiring %+v, want a1 and a2 (within their grace)", tn.RetiringIn)
	}
}

// TestEngineConfigResources: ike-peers[].resources reaches the engine's
// peer, and the engine makes room for each resource's child and its
// successor.
func TestEngineConfigResources(t *testing.T) {
	var cfg config.Config
	cfg.IPsec.LocalAddress = netip.MustParseAddr("10.0.0.1")
	peer := config.IKEPeer{Name: "pe2", LocalAddress: cfg.IPsec.LocalAddress, RemoteAddress: netip.MustParseAddr("10.0.0.2")}
	cfg.IPsec.IKEPeers = []config.IKEPeer{peer}
	if ec := EngineConfig(&cfg, nil); ec.Peers[0].Resources != 0 || ec.MaxChildSAs != 0 {
		t.Errorf("without resources: peer resources %d, max child SAs %d; want 0 and the default", ec.Peers[0].Resources, ec.MaxChildSAs)
	}
	cfg.IPsec.IKEPeers[0].Resources = 6
	ec := EngineConfig(&cfg, nil)
	if ec.Peers[0].Resources != 6 || ec.MaxChildSAs != 13 || ec.ReceiveQueues < 1 {
		t.Errorf("resources 6: peer resources %d, max child SAs %d, receive queues %d; want 6, 13, >= 1", ec.Peers[0].Resources, ec.MaxChildSAs, ec.ReceiveQueues)
	}
}
