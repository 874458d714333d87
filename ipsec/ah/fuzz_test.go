package ah

import (
	"bytes"
	"testing"
)

// fuzzSAs returns one receiver per transform (SPI 0x1000 + its index, ESN
// on for AES-256-GMAC) and the packets sealed for them, which alone may
// open: tunnel mode over IPv4 and IPv6 and transport mode over IPv4.
func fuzzSAs(t testing.TB) ([]*SA, [][]byte) {
	var rxs []*SA
	var sealed [][]byte
	for k, i := range allIntegs {
		cfg := Config{SPI: 0x1000 + uint32(k), Integ: i, Key: testKey(i, 0x5a), ESN: i == AES256GMAC}
		rxs = append(rxs, mustSA(t, cfg))
		tx := mustSA(t, cfg)
		sealed = append(sealed,
			sealTunnel(t, tx, ipv4Packet(src4, dst4, 17, 0), NextHeaderIPv4, src4, dst4),
			sealTunnel(t, tx, []byte{0, 1, 0x21, 0x40}, NextHeaderMPLS, src6, dst6),
			sealTransport(t, tx, ipv4Packet(src4, dst4, 6, 20)))
	}
	return rxs, sealed
}

// FuzzOpen opens arbitrary bytes with receiver number which, on a fresh
// window each time. Open must never panic, must leave the bytes as they
// were (the open helper checks), and must succeed only for a packet this
// test sealed for that receiver: everything after the IP header (AH and
// payload) equal to a sealed packet's.
func FuzzOpen(f *testing.F) {
	rxs, sealed := fuzzSAs(f)
	for k, p := range sealed {
		f.Add(uint8(k/3), p)
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{0x45})
	f.Add(uint8(2), []byte{0x60, 0, 0, 0, 0, 0, 51, 64})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		k := int(which) % len(rxs)
		rx := rxs[k]
		_ = rx.window.Init(0) // test only: every input meets a fresh window
		payload, _, err := open(t, rx, data)
		if err != nil {
			if payload != nil {
				t.Fatalf("error %v with payload %x", err, payload)
			}
			return
		}
		for j, p := range sealed {
			if j/3 != k {
				continue
			}
			h := IPv4HeaderLen
			if p[0]>>4 == 6 {
				h = IPv6HeaderLen
			}
			if len(data) >= len(p) && bytes.Equal(data[h:len(p)], p[h:]) {
				return
			}
		}
		t.Fatalf("receiver %d opened a packet it was not sent: %x", k, data)
	})
}

// FuzzSealTransport hands arbitrary bytes to SealTransport as an IP
// packet. It must never panic; when it accepts them, the result must
// open (OpenTransport) to exactly the bytes given.
func FuzzSealTransport(f *testing.F) {
	f.Add(uint8(0), ipv4Packet(src4, dst4, 6, 20))
	f.Add(uint8(1), ipv6Packet(src6, dst6, 17, 3))
	f.Add(uint8(2), ipv6Packet(src6, dst6, 0, 8))
	f.Add(uint8(0), []byte{0x46, 0, 0, 24})
	f.Add(uint8(1), []byte{})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		i := allIntegs[int(which)%len(allIntegs)]
		tx, rx := pair(t, i, which&4 != 0)
		buf := make([]byte, Headroom+len(data)+ESNTailroom)
		copy(buf[Headroom:], data)
		pkt, err := tx.SealTransport(buf, Headroom, len(data))
		if err != nil {
			if pkt != nil {
				t.Fatalf("error %v with packet %x", err, pkt)
			}
			return
		}
		obuf := append(append([]byte(nil), pkt...), 0, 0, 0, 0)
		got, err := rx.OpenTransport(obuf, 0, len(pkt))
		if err != nil {
			t.Fatalf("sealed %x, cannot open %x: %v", data, pkt, err)
		}
		// The IPv4 checksum is recomputed on the way out; compare
		// everything else.
		want := append([]byte(nil), data...)
		if want[0]>>4 == 4 {
			copy(want[ipv4Checksum:ipv4Checksum+2], got[ipv4Checksum:ipv4Checksum+2])
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip:\n got %x\nwant %x", got, want)
		}
	})
}
