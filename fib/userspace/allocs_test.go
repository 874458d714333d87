package userspace

import (
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
)

const allocRuns = 200

// assertNoAllocs fails the test if f allocates. The race detector and
// coverage instrument code with allocations of their own: skip then.
func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if got := testing.AllocsPerRun(allocRuns, f); got != 0 {
		t.Errorf("%s: %v allocations per packet, want 0", name, got)
	}
}

func TestOutboundAllocs(t *testing.T) {
	s := pe1State()
	s.VRFs["red"].Routes[pfx("10.3.0.0/24")] = remote("10.3.0.0/24", addr("192.0.2.3"), 3001)
	s.VRFs["red"].Routes[pfx("10.4.0.0/24")] = remote("10.4.0.0/24", addr("192.0.2.4"), 4001)
	s.Tunnels[addr("192.0.2.4")] = &fib.Tunnel{Remote: addr("192.0.2.4")} // no SA
	d := newTestDataplane(t, s)
	v := d.vrfs["red"]
	send := esptransport.NewSendBatch(2)
	for _, tc := range []struct {
		name string
		pkt  []byte
		want drop
	}{
		{"forwarded IPv4", ipv4("10.1.0.2", "10.2.0.2", 63, 1400), dropNone},
		{"forwarded IPv6", ipv6("fd00:1::2", "fd00:2::2", 63, 1400), dropNone},
		{"no route", ipv4("10.1.0.2", "10.9.0.2", 63, 1400), dropNoRoute},
		{"local route", ipv4("10.1.0.2", "10.1.0.3", 63, 1400), dropNoRoute},
		{"no tunnel", ipv4("10.1.0.2", "10.3.0.2", 63, 1400), dropNoTunnel},
		{"no SA", ipv4("10.1.0.2", "10.4.0.2", 63, 1400), dropNoSA},
		{"not IP", make([]byte, 100), dropMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := outBuf(tc.pkt)
			head := append([]byte(nil), tc.pkt[:40]...)
			assertNoAllocs(t, tc.name, func() {
				copy(buf[outHeadroom:], head) // Seal encrypted the last one
				pkt, to, why := d.outbound(v, buf, outHeadroom, len(tc.pkt))
				if why != tc.want {
					t.Fatalf("drop %d, want %d", why, tc.want)
				}
				if why == dropNone {
					send.Reset(true)
					send.Add(pkt, &to.dst)
					send.Add(pkt, &to.dst) // coalesced
				}
			})
		})
	}
}

func TestInboundAllocs(t *testing.T) {
	pe1, pe2 := newTestDataplane(t, pe1State()), newTestDataplane(t, pe2State())
	// Sealed packets for every run, since each can be opened once.
	type sealed struct {
		buf    []byte
		off, n int
	}
	seal := func(dst string, ipOnly bool) []sealed {
		out := make([]sealed, allocRuns+1)
		for i := range out {
			inner := ipv4("10.1.0.2", dst, 63, 1400)
			buf := make([]byte, inBufSize)
			copy(buf[outHeadroom:], inner)
			pkt, to, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
			if why != dropNone {
				t.Fatalf("outbound: drop %d", why)
			}
			if ipOnly {
				off, n := toWire(t, buf, pkt, pe1Addr, to)
				out[i] = sealed{buf, off, n}
			} else {
				out[i] = sealed{buf, cap(buf) - cap(pkt), len(pkt)}
			}
		}
		return out
	}
	from := netip.AddrPortFrom(pe1Addr, 4500)
	for _, tc := range []struct {
		name string
		pkts []sealed
		run  func(p sealed) drop
		want drop
	}{
		{"ESP-in-UDP payload", seal("10.2.0.2", false), func(p sealed) drop {
			_, _, _, why := pe2.inboundUDP(p.buf, p.off, p.n, from)
			return why
		}, dropNone},
		{"raw IPv4 datagram", seal("10.2.0.2", true), func(p sealed) drop {
			_, _, _, why := pe2.inboundIP(p.buf, p.off, p.n)
			return why
		}, dropNone},
		{"replayed", seal("10.2.0.2", false)[:1], func(p sealed) drop {
			_, _, _, why := pe2.inbound(p.buf, p.off, p.n)
			return why
		}, dropOpen},
		{"unknown SPI", []sealed{{make([]byte, 200), 20, 100}}, func(p sealed) drop {
			p.buf[20] = 0x77
			_, _, _, why := pe2.inbound(p.buf, p.off, p.n)
			return why
		}, dropOpen},
		{"keepalive", []sealed{{[]byte{0, 0, 0xff}, 2, 1}}, func(p sealed) drop {
			_, _, _, why := pe2.inboundUDP(p.buf, p.off, p.n, from)
			return why
		}, dropNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			assertNoAllocs(t, tc.name, func() {
				p := tc.pkts[min(i, len(tc.pkts)-1)]
				i++
				if why := tc.run(p); why != tc.want && !(tc.name == "replayed" && i == 1) {
					t.Fatalf("drop %d, want %d", why, tc.want)
				}
			})
		})
	}

	// Unknown label: PE1 pushes one PE2 never allocated.
	s := pe1State()
	s.VRFs["red"].Routes[pfx("10.2.0.0/24")] = remote("10.2.0.0/24", pe2Addr, 2999)
	if _, _, err := pe1.update(s, nil); err != nil {
		t.Fatal(err)
	}
	pkts := seal("10.2.0.2", false)
	i := 0
	assertNoAllocs(t, "unknown label", func() {
		p := pkts[i]
		i++
		if _, _, _, why := pe2.inbound(p.buf, p.off, p.n); why != dropUnknownLabel {
			t.Fatalf("drop %d, want unknown label", why)
		}
	})
}

func TestWriteTUNsAllocs(t *testing.T) {
	red, blue := &vrf{name: "red"}, &vrf{name: "blue"}
	out := make([]delivery, 0, batchSize)
	scratch := make([][]byte, 0, batchSize)
	pkt := make([]byte, 100)
	assertNoAllocs(t, "writeTUNs", func() {
		out = append(out[:0], delivery{red, 0, pkt}, delivery{blue, 0, pkt}, delivery{red, 0, pkt})
		writeTUNs(out, scratch) // no devices: counted as tx drops
	})
	if red.stats().InDrops.TxError != 2*(allocRuns+1) {
		t.Errorf("red tx drops %d", red.stats().InDrops.TxError)
	}
}
