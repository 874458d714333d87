package ah

import (
	"fmt"
	"testing"
)

// TestZeroAllocs: SealTunnel, Open, SealTransport and OpenTransport
// allocate nothing per packet, for every transform, with and without ESN,
// over IPv4 and IPv6. Not in -race builds (sync.Pool drops items there).
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; run without -race")
	}
	for _, i := range allIntegs {
		for _, esn := range []bool{false, true} {
			for _, v6 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/esn=%v/v6=%v", i, esn, v6), func(t *testing.T) {
					tx, rx := pair(t, i, esn)
					src, dst := src4, dst4
					ip := ipv4Packet(src4, dst4, 17, 1000)
					if v6 {
						src, dst = src6, dst6
						ip = ipv6Packet(src6, dst6, 17, 1000)
					}
					buf := make([]byte, Headroom+len(ip)+ESNTailroom)
					tunnel := testing.AllocsPerRun(200, func() {
						pkt, err := tx.SealTunnel(buf, Headroom, 1000, NextHeaderMPLS, src, dst)
						if err != nil {
							t.Fatal(err)
						}
						if _, _, err := rx.Open(buf, Headroom-(len(pkt)-1000), len(pkt)); err != nil {
							t.Fatal(err)
						}
					})
					transport := testing.AllocsPerRun(200, func() {
						copy(buf[Headroom:], ip)
						pkt, err := tx.SealTransport(buf, Headroom, len(ip))
						if err != nil {
							t.Fatal(err)
						}
						if _, err := rx.OpenTransport(buf, Headroom-(len(pkt)-len(ip)), len(pkt)); err != nil {
							t.Fatal(err)
						}
					})
					if tunnel != 0 || transport != 0 {
						t.Errorf("allocations per packet: tunnel %v, transport %v", tunnel, transport)
					}
				})
			}
		}
	}
}

// BenchmarkSealOpen measures a tunnel-mode seal and open of 1400 bytes.
func BenchmarkSealOpen(b *testing.B) {
	for _, i := range allIntegs {
		b.Run(i.String(), func(b *testing.B) {
			tx, rx := pair(b, i, false)
			buf := make([]byte, Headroom+1400+ESNTailroom)
			b.SetBytes(1400)
			b.ReportAllocs()
			for b.Loop() {
				pkt, err := tx.SealTunnel(buf, Headroom, 1400, NextHeaderMPLS, src4, dst4)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := rx.Open(buf, Headroom-(len(pkt)-1400), len(pkt)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
