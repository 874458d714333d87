package userspace

import (
	"encoding/binary"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
)

// The per-resource SAs of RFC 9611 (fib.Tunnel.Resources): PE1 has two
// SA pairs toward PE2, resource 0 (0x1001/0x2001) and resource 1
// (0x1002/0x2002), each SA with its own key.

func pe1Resources() *fib.State {
	s := pe1State()
	s.Tunnels[pe2Addr].Resources = []fib.SAPair{{Out: sa(0x1002, 3), In: sa(0x2002, 4)}}
	return s
}

func pe2Resources() *fib.State {
	s := pe2State()
	s.Tunnels[pe1Addr].Resources = []fib.SAPair{{Out: sa(0x2002, 4), In: sa(0x1002, 3)}}
	return s
}

// sealOnLane seals one packet to 10.2.0.2 read from TUN queue lane and
// returns its SPI, the ESP packet and its buffer.
func sealOnLane(t *testing.T, d *dataplane, lane int) (spi uint32, buf, pkt []byte) {
	t.Helper()
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 200)
	buf = outBuf(inner)
	pkt, _, why := d.outboundLane(d.vrfs["red"], lane, buf, outHeadroom, len(inner))
	if why != dropNone {
		t.Fatalf("lane %d: dropped: %v", lane, why)
	}
	return binary.BigEndian.Uint32(pkt), buf, pkt
}

// TestResourcesSealByLane: each TUN queue seals with its lane's SA, the
// lanes round robin over the SAs, and each SA counts its own sequence
// from 1 (its own nonce space); the receiving PE opens both and counts
// per SA.
func TestResourcesSealByLane(t *testing.T) {
	pe1 := newTestDataplane(t, pe1Resources())
	pe2 := newTestDataplane(t, pe2Resources())
	want := []uint32{0x1001, 0x1002, 0x1001, 0x1002, 0x1001}
	for lane, w := range want {
		spi, buf, pkt := sealOnLane(t, pe1, lane)
		if spi != w {
			t.Errorf("lane %d sealed with SPI %#x, want %#x", lane, spi, w)
		}
		if seq := binary.BigEndian.Uint32(pkt[4:]); seq != uint32(lane/2+1) {
			t.Errorf("lane %d: sequence %d, want %d", lane, seq, lane/2+1)
		}
		off := cap(buf) - cap(pkt)
		if v, _, _, why := pe2.inbound(buf, off, len(pkt)); v == nil || why != dropNone {
			t.Fatalf("lane %d: PE2 dropped: %v", lane, why)
		}
	}
	got := map[[2]uint32]uint64{}
	for _, c := range pe2.stats().SAs {
		if !c.Outbound {
			got[[2]uint32{c.SPI, 0}] = c.OpenedPackets
		}
	}
	for _, c := range pe1.stats().SAs {
		if c.Outbound {
			got[[2]uint32{c.SPI, 1}] = c.SealedPackets
		}
	}
	for k, w := range map[[2]uint32]uint64{{0x1001, 0}: 3, {0x1002, 0}: 2, {0x1001, 1}: 3, {0x1002, 1}: 2} {
		if got[k] != w {
			t.Errorf("SA %#x (outbound %d): %d packets, want %d", k[0], k[1], got[k], w)
		}
	}
	// The VRF counts add up the lanes' and the SAs' shards.
	if out, in := pe1.stats().VRFs["red"], pe2.stats().VRFs["red"]; out.OutPackets != 5 || out.OutBytes != 5*200 || in.InPackets != 5 || in.InBytes != 5*200 {
		t.Errorf("VRF red: pe1 out %d packets %d bytes, pe2 in %d packets %d bytes; want 5 and 1000 each", out.OutPackets, out.OutBytes, in.InPackets, in.InBytes)
	}
}

// TestResourcesOneSA: a tunnel without resources seals every lane with
// its one SA, as before RFC 9611.
func TestResourcesOneSA(t *testing.T) {
	pe1 := newTestDataplane(t, pe1State())
	for lane := range 4 {
		if spi, _, _ := sealOnLane(t, pe1, lane); spi != 0x1001 {
			t.Errorf("lane %d sealed with SPI %#x, want 0x1001", lane, spi)
		}
	}
}

// TestResourcesUpdate: an update that drops a resource lets its SAs go
// (its inbound SPI no longer opens, its outbound SA leaves the stats),
// and one that keeps it keeps its sequence.
func TestResourcesUpdate(t *testing.T) {
	pe1 := newTestDataplane(t, pe1Resources())
	sealOnLane(t, pe1, 1)
	if _, _, err := pe1.update(pe1Resources(), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, pkt := sealOnLane(t, pe1, 1); binary.BigEndian.Uint32(pkt[4:]) != 2 {
		t.Errorf("resource 1's SA made again by an equal update: sequence %d, want 2", binary.BigEndian.Uint32(pkt[4:]))
	}
	if _, _, err := pe1.update(pe1State(), nil); err != nil {
		t.Fatal(err)
	}
	if spi, _, _ := sealOnLane(t, pe1, 1); spi != 0x1001 {
		t.Errorf("lane 1 sealed with SPI %#x after its resource left, want 0x1001", spi)
	}
	for _, c := range pe1.stats().SAs {
		if c.SPI == 0x1002 || c.SPI == 0x2002 {
			t.Errorf("resource 1's SA %#x still held after the update", c.SPI)
		}
	}
}

// TestResourcesNeedFirstSA: resources without resource 0's outbound SA
// seal nothing: the tunnel drops, counted, never sends in clear.
func TestResourcesNeedFirstSA(t *testing.T) {
	s := pe1Resources()
	s.Tunnels[pe2Addr].Out = nil
	pe1 := newTestDataplane(t, s)
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 200)
	if _, _, why := pe1.outboundLane(pe1.vrfs["red"], 1, outBuf(inner), outHeadroom, len(inner)); why != dropNoSA {
		t.Errorf("drop %v, want %v", why, dropNoSA)
	}
}

// TestResourcesAllocs: sealing on another lane's SA allocates nothing.
func TestResourcesAllocs(t *testing.T) {
	pe1 := newTestDataplane(t, pe1Resources())
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1400)
	buf := outBuf(inner)
	lane := 0
	assertNoAllocs(t, "outboundLane", func() {
		copy(buf[outHeadroom:], inner[:20])
		if _, _, why := pe1.outboundLane(pe1.vrfs["red"], lane, buf, outHeadroom, len(inner)); why != dropNone {
			t.Fatalf("drop %v", why)
		}
		lane++
	})
}

// TestResourcesPersistSequence: manually keyed resource SAs each reserve
// their own sequence numbers in the store; after a restart (a new
// dataplane on the same directory) each continues above its own mark,
// and a resource that repeats resource 0's key is refused by the store
// (one key, two sequence spaces: nonce reuse) and left out.
func TestResourcesPersistSequence(t *testing.T) {
	dir := t.TempDir()
	state := func() *fib.State {
		s := pe1Resources()
		tn := s.Tunnels[pe2Addr]
		tn.Out.PersistSequence = true
		tn.Resources[0].Out.PersistSequence = true
		return s
	}
	run := func() (seq0, seq1 uint32) {
		d := newDataplane(mpls.Uniform, nil, 0)
		d.seqs = seqstore.Open(dir, nil, seqstore.Options{Block: 100})
		defer d.seqs.Close()
		if _, _, err := d.update(state(), nil); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_, _, p0 := sealOnLane(t, d, 0)
			_, _, p1 := sealOnLane(t, d, 1)
			seq0, seq1 = binary.BigEndian.Uint32(p0[4:]), binary.BigEndian.Uint32(p1[4:])
		}
		return seq0, seq1
	}
	if a, b := run(); a != 3 || b != 3 {
		t.Fatalf("first run: sequences %d and %d, want 3 and 3", a, b)
	}
	if a, b := run(); a != 103 || b != 103 {
		t.Errorf("after a restart: sequences %d and %d, want 103 and 103 (each above its own mark)", a, b)
	}

	d := newDataplane(mpls.Uniform, nil, 0)
	d.seqs = seqstore.Open(t.TempDir(), nil, seqstore.Options{Block: 100})
	defer d.seqs.Close()
	s := state()
	s.Tunnels[pe2Addr].Resources[0].Out.Key = testKey(1) // resource 0's key
	if _, _, err := d.update(s, nil); err == nil {
		t.Error("a resource sealing with resource 0's key was accepted")
	}
	for lane := range 2 {
		if spi, _, _ := sealOnLane(t, d, lane); spi != 0x1001 {
			t.Errorf("lane %d sealed with %#x, want 0x1001 (the refused resource left out)", lane, spi)
		}
	}
}
