package ah

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
)

// TestTunnelRoundTrip seals inner packets of several sizes in tunnel mode
// over IPv4 and IPv6 with every transform, with and without ESN, checks
// the outer header and AH fields byte by byte, and opens them.
func TestTunnelRoundTrip(t *testing.T) {
	for _, i := range allIntegs {
		for _, esn := range []bool{false, true} {
			for _, v6 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/esn=%v/v6=%v", i, esn, v6), func(t *testing.T) {
					tx, rx := pair(t, i, esn)
					src, dst, h := src4, dst4, IPv4HeaderLen
					if v6 {
						src, dst, h = src6, dst6, IPv6HeaderLen
					}
					ahLen := i.HeaderLen()
					for k, n := range []int{0, 1, 63, 1400} {
						inner := ipv4Packet(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 17, n)
						pkt := sealTunnel(t, tx, inner, NextHeaderIPv4, src, dst)
						if len(pkt) != h+ahLen+len(inner) {
							t.Fatalf("packet is %d bytes, want %d", len(pkt), h+ahLen+len(inner))
						}
						if v6 {
							if pkt[0]>>4 != 6 || pkt[ipv6NextHeader] != ProtoAH || int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-h {
								t.Fatalf("bad IPv6 header %x", pkt[:h])
							}
						} else if pkt[0] != 0x45 || pkt[ipv4Protocol] != ProtoAH || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) {
							t.Fatalf("bad IPv4 header %x", pkt[:h])
						}
						a := pkt[h:]
						if a[0] != NextHeaderIPv4 || int(a[1]) != ahLen/4-2 || a[2] != 0 || a[3] != 0 ||
							binary.BigEndian.Uint32(a[4:]) != 0x1001 || binary.BigEndian.Uint32(a[8:]) != uint32(k+1) {
							t.Fatalf("bad AH header %x", a[:ahLen])
						}
						if i.IsGMAC() && binary.BigEndian.Uint64(a[12:]) != uint64(k+1) {
							t.Fatalf("GMAC IV %x, want the sequence number %d", a[12:20], k+1)
						}
						if !bytes.Equal(pkt[h+ahLen:], inner) {
							t.Fatal("payload changed by Seal")
						}
						got, nh, err := open(t, rx, pkt)
						if err != nil {
							t.Fatalf("Open: %v", err)
						}
						if nh != NextHeaderIPv4 || !bytes.Equal(got, inner) {
							t.Fatalf("Open = %d %x, want %d %x", nh, got, NextHeaderIPv4, inner)
						}
					}
					c := rx.Counters()
					if c.OpenedPackets != 4 || tx.Counters().SealedPackets != 4 {
						t.Errorf("counters: %+v / %+v", tx.Counters(), c)
					}
				})
			}
		}
	}
}

// TestTransportRoundTrip seals IPv4 and IPv6 packets in transport mode,
// checks that AH sits between the header and the payload with the
// protocol moved into it, and that OpenTransport gives back the original
// packet (IPv4 checksum included).
func TestTransportRoundTrip(t *testing.T) {
	for _, i := range allIntegs {
		for _, esn := range []bool{false, true} {
			for _, v6 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/esn=%v/v6=%v", i, esn, v6), func(t *testing.T) {
					tx, rx := pair(t, i, esn)
					ip, h := ipv4Packet(src4, dst4, 17, 100), IPv4HeaderLen
					if v6 {
						ip, h = ipv6Packet(src6, dst6, 17, 100), IPv6HeaderLen
					}
					ahLen := i.HeaderLen()
					pkt := sealTransport(t, tx, ip)
					if len(pkt) != len(ip)+ahLen || pkt[h] != 17 || !bytes.Equal(pkt[h+ahLen:], ip[h:]) {
						t.Fatalf("transport packet %x from %x", pkt, ip)
					}
					if !v6 && checksumOK(pkt[:h]) == false {
						t.Fatal("outer IPv4 checksum wrong")
					}
					payload, nh, err := open(t, rx, pkt)
					if err != nil || nh != 17 || !bytes.Equal(payload, ip[h:]) {
						t.Fatalf("Open = %x %d %v", payload, nh, err)
					}
					// OpenTransport on a fresh receiver (the first
					// one has seen this sequence number).
					_, rx2 := pair(t, i, esn)
					buf := append(append([]byte(nil), pkt...), 0, 0, 0, 0)
					got, err := rx2.OpenTransport(buf, 0, len(pkt))
					if err != nil || !bytes.Equal(got, ip) {
						t.Fatalf("OpenTransport = %x, %v\nwant %x", got, err, ip)
					}
				})
			}
		}
	}
}

func checksumOK(h []byte) bool {
	var s uint32
	for i := 0; i < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s == 0xffff
}
