package userspace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestForgetsDeparted: PEs that left the State (their routes withdrawn
// and their tunnels gone) leave the dataplane's peer and next-hop maps, so
// churn among remote PEs does not grow them without bound.
func TestForgetsDeparted(t *testing.T) {
	d := newTestDataplane(t, pe1State())
	for i := range 50 {
		pe := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		s := pe1State()
		s.VRFs["red"].Routes[pfx("10.50.0.0/16")] = remote("10.50.0.0/16", pe, mpls.Label(3000+i))
		s.Tunnels[pe] = &fib.Tunnel{Remote: pe, Out: sa(uint32(0x5000+i), byte(i))}
		if _, _, err := d.update(s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := d.update(pe1State(), nil); err != nil {
		t.Fatal(err)
	}
	if len(d.peers) != 1 || d.peers[pe2Addr] == nil {
		t.Errorf("peers: %d held, want only PE2's", len(d.peers))
	}
	if n := len(d.hops); n != 2 { // PE2 with 2001, PE2 with 2002
		t.Errorf("next hops: %d held, want 2", n)
	}
	if n := len(d.outSAs); n != 1 {
		t.Errorf("outbound SAs: %d held, want 1", n)
	}
	checkRefs(t, d)
}

// TestRefsRandomUpdates: after random sequences of route and tunnel
// changes (few, many, VRFs added and removed), the dataplane holds
// exactly the next hops its tables use and the peers those hops or the
// tunnels name, and routes still reach the right PE.
func TestRefsRandomUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := newDataplane(mpls.Uniform, nil, 0)
	pes := []netip.Addr{addr("192.0.2.10"), addr("192.0.2.11"), addr("192.0.2.12"), addr("192.0.2.13")}
	var prev *fib.State
	for step := range 300 {
		s := &fib.State{LocalAddress: pe1Addr, VRFs: map[string]*fib.VRF{}, Tunnels: map[netip.Addr]*fib.Tunnel{}}
		for _, name := range []string{"red", "blue", "green"} {
			if prev != nil && prev.VRFs[name] != nil && rng.IntN(4) > 0 {
				// Change a few routes, or many, or none (same pointer).
				// (bart's persist path), a tenth of the table (clone),
				// or most of it (from scratch).
				switch rng.IntN(4) {
				case 0:
					s.VRFs[name] = prev.VRFs[name]
					continue
				case 1:
					s.VRFs[name] = mutate(rng, prev.VRFs[name], pes, 3)
				case 2:
					s.VRFs[name] = mutate(rng, prev.VRFs[name], pes, 80)
				default:
					s.VRFs[name] = mutate(rng, prev.VRFs[name], pes, 500)
				}
				continue
			}
			if rng.IntN(5) > 0 {
				s.VRFs[name] = mutate(rng, vrfOf(name, 100, local("10.0.0.0/24", name)), pes, 600)
			}
		}
		for i, pe := range pes {
			if rng.IntN(2) == 0 {
				s.Tunnels[pe] = &fib.Tunnel{Remote: pe, Out: sa(uint32(0x600+i), byte(i))}
			}
		}
		if _, _, err := d.update(s, nil); err != nil && !strings.Contains(err.Error(), "0 labels") {
			t.Fatalf("step %d: %v", step, err) // only the invalid routes are refused
		}
		checkRefs(t, d)
		if t.Failed() {
			t.Fatalf("step %d", step)
		}
		prev = s
	}
}

// mutate returns a copy of v with n random routes added, changed or
// withdrawn.
func mutate(rng *rand.Rand, v *fib.VRF, pes []netip.Addr, n int) *fib.VRF {
	out := vrfOf(v.Name, v.Table)
	for p, r := range v.Routes {
		out.Routes[p] = r
	}
	for range n {
		p := pfx(fmt.Sprintf("10.%d.%d.0/24", 1+rng.IntN(3), rng.IntN(256)))
		if rng.IntN(3) == 0 {
			delete(out.Routes, p)
			continue
		}
		labels := []mpls.Label{mpls.Label(1000 + rng.IntN(4))}
		if rng.IntN(10) == 0 {
			labels = nil // invalid: refused, never held
		}
		out.Routes[p] = fib.Route{Prefix: p, Remote: pes[rng.IntN(len(pes))], Labels: labels}
	}
	return out
}

// checkRefs recounts what the tables use and compares it with what the
// dataplane holds.
func checkRefs(t *testing.T, d *dataplane) {
	t.Helper()
	used := map[*nextHop]int{}
	for _, v := range d.vrfs {
		for p, h := range v.routes.Load().All() {
			if h == localHop {
				continue
			}
			used[h]++
			r := v.applied.Routes[p]
			if h.peer.remote != r.Remote {
				t.Errorf("vrf %s %s: goes to %s, want %s", v.name, p, h.peer.remote, r.Remote)
			}
			if d.peers[h.peer.remote] != h.peer {
				t.Errorf("vrf %s %s: its peer %s is not the one held", v.name, p, h.peer.remote)
			}
		}
	}
	for k, h := range d.hops {
		if used[h] != h.refs {
			t.Errorf("hop %v: refs %d, used by %d routes", k.remote, h.refs, used[h])
		}
		if h.refs == 0 {
			t.Errorf("hop %v held with no route", k.remote)
		}
	}
	for h := range used {
		if d.hops[h.key()] != h {
			t.Errorf("a table uses a hop to %s that is not held", h.peer.remote)
		}
	}
	for remote, p := range d.peers {
		if p.hops == 0 && p.out.Load() == nil {
			t.Errorf("peer %s held with no route and no tunnel", remote)
		}
	}
}

// TestGatewayPeerPinned: a Gateway holds a peer for each remote PE it has
// a TUN for (gwPeer.p) before any tunnel to it exists; the dataplane must
// keep that peer, so the tunnel that comes later is the one the TUN's
// reader finds. A PE that is no longer pinned is forgotten.
func TestGatewayPeerPinned(t *testing.T) {
	peX := addr("192.0.2.50")
	d := newTestGateway(t, pe1Addr, nil)
	d.pinned = map[netip.Addr]bool{peX: true}
	p := d.peer(peX)
	if _, _, err := d.update(&fib.State{LocalAddress: pe1Addr}, nil); err != nil {
		t.Fatal(err)
	}
	tunnels := map[netip.Addr]*fib.Tunnel{peX: {Remote: peX, Out: sa(0x7001, 7)}}
	if _, _, err := d.update(&fib.State{LocalAddress: pe1Addr, Tunnels: tunnels}, nil); err != nil {
		t.Fatal(err)
	}
	if out := p.out.Load(); out == nil || out.sa == nil {
		t.Fatal("the pinned peer did not get the tunnel that came later")
	}
	d.pinned = nil
	if _, _, err := d.update(&fib.State{LocalAddress: pe1Addr}, nil); err != nil {
		t.Fatal(err)
	}
	if len(d.peers) != 0 {
		t.Errorf("%d peers held with no TUN, route or tunnel", len(d.peers))
	}
	if p.out.Load() != nil {
		t.Error("a forgotten peer still has a tunnel")
	}
}
