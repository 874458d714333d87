package userspace

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
)

// twoPEState has tunnels to two remote PEs whose outbound SPIs are equal:
// each remote PE picks the SPI it receives on, so nothing keeps them apart.
func twoPEState(window int) *fib.State {
	peA, peB := addr("192.0.2.10"), addr("192.0.2.11")
	out := func(seed byte) *fib.SAParams {
		p := sa(0x4242, seed)
		p.ReplayWindow = window
		return p
	}
	return &fib.State{
		LocalAddress: pe1Addr,
		VRFs: map[string]*fib.VRF{"red": vrfOf("red", 101,
			remote("10.10.0.0/16", peA, 100),
			remote("10.11.0.0/16", peB, 200))},
		Tunnels: map[netip.Addr]*fib.Tunnel{
			peA: {Remote: peA, Out: out(1)},
			peB: {Remote: peB, Out: out(2)},
		},
	}
}

// sealSeq seals one packet toward dst and returns the sequence number it
// carried.
func sealSeq(t *testing.T, d *dataplane, dst string) uint32 {
	t.Helper()
	buf := outBuf(ipv4("10.1.0.2", dst, 63, 100))
	pkt, _, why := d.outbound(d.vrfs["red"], buf, outHeadroom, 100)
	if why != dropNone {
		t.Fatalf("%s: drop %d", dst, why)
	}
	return binary.BigEndian.Uint32(pkt[4:8])
}

// TestSharedOutboundSPINeverRestarts: two tunnels whose outbound SPIs are
// equal each keep their own SA across any number of updates, and neither
// sequence ever starts again (it is the IV: a restart under the same key
// reuses nonces). Changing only the replay window (an inbound setting)
// does not restart it either.
func TestSharedOutboundSPINeverRestarts(t *testing.T) {
	d := newTestDataplane(t, twoPEState(0))
	var last [2]uint32
	dsts := [2]string{"10.10.0.1", "10.11.0.1"}
	for round := range 20 {
		window := 0
		if round%2 == 1 {
			window = 64 * (1 + round)
		}
		if _, _, err := d.update(twoPEState(window), nil); err != nil {
			t.Fatal(err)
		}
		for i, dst := range dsts {
			seq := sealSeq(t, d, dst)
			if seq != last[i]+1 {
				t.Fatalf("round %d, tunnel to %s: sequence %d after %d: the SA was made again", round, dst, seq, last[i])
			}
			last[i] = seq
		}
	}
	if n := len(d.outSAs); n != 2 {
		t.Errorf("%d outbound SAs held, want 2", n)
	}
}

// TestManualSANeedsStore: a manually keyed outbound SA without a sequence
// store is refused, and its tunnel drops (never seals from 1 again).
func TestManualSANeedsStore(t *testing.T) {
	d := newDataplane(mpls.Uniform, nil, 0)
	if _, _, err := d.update(manualState(), nil); err == nil || !strings.Contains(err.Error(), "sequence store") {
		t.Fatalf("update: %v", err)
	}
	buf := outBuf(ipv4("10.1.0.2", "10.2.0.2", 63, 100))
	if _, _, why := d.outbound(d.vrfs["red"], buf, outHeadroom, 100); why != dropNoSA {
		t.Errorf("drop %d, want no-SA", why)
	}
}

// TestManualKeyMovesSPI: a manual key moved to another SPI in one update
// is free for its new SA (the old one is let go first) and continues
// above its mark.
func TestManualKeyMovesSPI(t *testing.T) {
	d := newDataplane(mpls.Uniform, nil, 0)
	d.seqs = seqstore.Open(t.TempDir(), nil, seqstore.Options{Block: 100})
	defer d.seqs.Close()
	if _, _, err := d.update(manualState(), nil); err != nil {
		t.Fatal(err)
	}
	if seq := sealSeq(t, d, "10.2.0.2"); seq != 1 {
		t.Fatalf("first sequence %d", seq)
	}
	s := manualState()
	s.Tunnels[pe2Addr].Out.SPI = 0x1002
	if _, _, err := d.update(s, nil); err != nil {
		t.Fatal(err)
	}
	if seq := sealSeq(t, d, "10.2.0.2"); seq != 101 {
		t.Errorf("after the move: sequence %d, want 101", seq)
	}
}

// TestOutboundSAExhausted: an outbound SA without ESN at the end of its
// sequence space (2^32-1) stops sealing: each further packet is dropped
// and counted (VRF seal-error, SA seq-exhausted), the counter never wraps,
// an update with the same key does not make the SA again (which would
// restart at 1), and Stats says the SA needs a rekey.
func TestOutboundSAExhausted(t *testing.T) {
	d := newTestDataplane(t, pe1State())
	k := outKey{remote: pe2Addr, spi: 0x1001}
	sa, err := esp.NewSA(esp.Config{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: testKey(1), InitialSeq: 1<<32 - 3})
	if err != nil {
		t.Fatal(err)
	}
	d.outSAs[k].sa = sa
	tun := *d.peers[pe2Addr].out.Load()
	tun.sa = sa
	d.peers[pe2Addr].out.Store(&tun)

	for _, want := range []uint32{1<<32 - 2, 1<<32 - 1} {
		if got := sealSeq(t, d, "10.2.0.2"); got != want {
			t.Fatalf("sequence %d, want %d", got, want)
		}
	}
	if _, _, err := d.update(pe1State(), nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		buf := outBuf(ipv4("10.1.0.2", "10.2.0.2", 63, 100))
		if pkt, _, why := d.outbound(d.vrfs["red"], buf, outHeadroom, 100); why != dropSealError || pkt != nil {
			t.Fatalf("at 2^32-1: drop %d, packet %v", why, pkt != nil)
		}
	}
	if c := d.vrfs["red"].stats(); c.OutDrops.SealError != 3 || c.OutPackets != 2 {
		t.Errorf("VRF counters %+v", c)
	}
	var found bool
	for _, c := range d.stats().SAs {
		if c.Outbound && c.SPI == 0x1001 {
			found = true
			if c.SeqExhausted != 3 || c.LastSeq != 1<<32-1 || !c.NeedsRekey {
				t.Errorf("SA counters %+v", c)
			}
		}
	}
	if !found {
		t.Error("no outbound SA in Stats")
	}
}

// TestSharedOutboundSPICounters: two outbound SAs with one SPI keep
// apart in the counters (each carries its remote PE).
func TestSharedOutboundSPICounters(t *testing.T) {
	d := newTestDataplane(t, twoPEState(0))
	sealSeq(t, d, "10.10.0.1")
	sealSeq(t, d, "10.11.0.1")
	sealSeq(t, d, "10.11.0.1")
	m := map[netip.Addr]uint64{}
	for _, c := range d.stats().SAs {
		if c.Outbound && c.SPI == 0x4242 {
			m[c.Remote] += c.SealedPackets
		}
	}
	a, b := m[netip.MustParseAddr("192.0.2.10")], m[netip.MustParseAddr("192.0.2.11")]
	if a != 1 || b != 2 {
		t.Errorf("sealed packets per tunnel: %d and %d, want 1 and 2", a, b)
	}
}

// TestMappedRemoteKeepsSA: a tunnel keyed by an IPv4-mapped IPv6 address
// is the same tunnel as its IPv4 form: updates keep its SA (and sequence).
func TestMappedRemoteKeepsSA(t *testing.T) {
	mapped := netip.AddrFrom16(pe2Addr.As16())
	state := func() *fib.State {
		s := pe1State()
		tun := s.Tunnels[pe2Addr]
		delete(s.Tunnels, pe2Addr)
		s.Tunnels[mapped] = tun
		return s
	}
	d := newTestDataplane(t, state())
	for want := uint32(1); want <= 3; want++ {
		if got := sealSeq(t, d, "10.2.0.2"); got != want {
			t.Fatalf("sequence %d, want %d", got, want)
		}
		if _, _, err := d.update(state(), nil); err != nil {
			t.Fatal(err)
		}
	}
}
