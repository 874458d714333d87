package userspace

import (
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"golang.zx2c4.com/wireguard/tun"
)

// TestResourcesInboundLanes: what an inbound SA of a per-resource tunnel
// opens comes with the lane of its resource's outbound SA, lane 0 for
// resource 0; a retiring resource SA keeps its lane while it drains; a
// tunnel of one SA pair opens everything on lane 0.
func TestResourcesInboundLanes(t *testing.T) {
	pe1 := newTestDataplane(t, pe1Resources())
	pe2 := newTestDataplane(t, pe2Resources())
	openLane := func(sealLane int) (uint32, int) {
		t.Helper()
		spi, buf, pkt := sealOnLane(t, pe1, sealLane)
		v, _, _, lane, why := pe2.inboundLane(buf, cap(buf)-cap(pkt), len(pkt))
		if v == nil || why != dropNone {
			t.Fatalf("SPI %#x: dropped: %v", spi, why)
		}
		return spi, lane
	}
	for sealLane, want := range []int{0, 1, 0, 1} {
		if spi, lane := openLane(sealLane); lane != want {
			t.Errorf("SPI %#x (sealed on lane %d) opened on lane %d, want %d", spi, sealLane, lane, want)
		}
	}

	// PE2 after a rekey of resource 1: the new inbound SA takes the
	// lane, the old one, retiring, keeps it.
	s2 := pe2Resources()
	s2.Tunnels[pe1Addr].Resources[0].In = sa(0x1003, 5)
	s2.Tunnels[pe1Addr].RetiringIn = []*fib.SAParams{sa(0x1002, 3)}
	if _, _, err := pe2.update(s2, nil); err != nil {
		t.Fatal(err)
	}
	if spi, lane := openLane(1); spi != 0x1002 || lane != 1 {
		t.Errorf("retiring SPI %#x opened on lane %d, want 0x1002 on lane 1", spi, lane)
	}
	if l := (*pe2.inLanes.Load())[0x1003]; l != 1 {
		t.Errorf("rekeyed resource 1's inbound SA on lane %d, want 1", l)
	}

	// Back to one SA pair: everything on lane 0.
	if _, _, err := pe2.update(pe2State(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(*pe2.inLanes.Load()); n != 0 {
		t.Errorf("one SA pair left: %d inbound SAs still have a lane", n)
	}
	if spi, lane := openLane(0); lane != 0 {
		t.Errorf("SPI %#x opened on lane %d, want 0", spi, lane)
	}
}

// TestWriteTUNsByLane: each VRF's packets are written on their lane's
// queue (lane mod the queues), one write per lane, each lane's in order;
// a TUN of one queue takes every lane's.
func TestWriteTUNsByLane(t *testing.T) {
	q0, q1, one := &recordingTUN{}, &recordingTUN{}, &recordingTUN{}
	red, blue := &vrf{name: "red"}, &vrf{name: "blue"}
	red.dev.Store(&device{Device: q0, queues: []tun.Device{q0, q1}})
	blue.dev.Store(&device{Device: one})
	pkt := func(b byte) []byte {
		buf := make([]byte, tunOffset+1)
		buf[tunOffset] = b
		return buf
	}
	out := []delivery{
		{red, 0, pkt(1)}, {red, 1, pkt(2)}, {blue, 1, pkt(3)}, {red, 0, pkt(4)},
		{red, 2, pkt(5)}, {red, 1, pkt(6)}, {blue, 0, pkt(7)},
	}
	writeTUNs(out, make([][]byte, 0, batchSize))
	got := func(r *recordingTUN) (bs []byte) {
		for _, g := range r.got {
			bs = append(bs, g[0])
		}
		return bs
	}
	for _, c := range []struct {
		name string
		r    *recordingTUN
		want string
	}{
		{"red queue 0", q0, "\x01\x04\x05"}, {"red queue 1", q1, "\x02\x06"}, {"blue", one, "\x03\x07"},
	} {
		if g := string(got(c.r)); g != c.want {
			t.Errorf("%s got packets %v, want %v", c.name, []byte(g), []byte(c.want))
		}
	}
}

// TestInboundLaneAllocs: opening on a resource's lane allocates nothing.
func TestInboundLaneAllocs(t *testing.T) {
	pe1 := newTestDataplane(t, pe1Resources())
	pe2 := newTestDataplane(t, pe2Resources())
	type sealed struct{ buf, pkt []byte }
	pkts := make([]sealed, allocRuns+1)
	for i := range pkts {
		_, buf, pkt := sealOnLane(t, pe1, 1)
		pkts[i] = sealed{buf, pkt}
	}
	i := 0
	assertNoAllocs(t, "inbound on lane 1", func() {
		p := pkts[i]
		i++
		if _, _, _, lane, why := pe2.inboundLane(p.buf, cap(p.buf)-cap(p.pkt), len(p.pkt)); why != dropNone || lane != 1 {
			t.Fatalf("lane %d, drop %d; want lane 1", lane, why)
		}
	})
}
