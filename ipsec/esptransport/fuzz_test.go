package esptransport

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// FuzzDemux feeds arbitrary datagrams to DemuxUDP and DemuxIP: no panic,
// and what they return lies inside the datagram (an ESP packet opened in
// place must not run over its buffer). Seeds in testdata/fuzz/FuzzDemux.
func FuzzDemux(f *testing.F) {
	f.Add(true, []byte{0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xab, 0xab})
	f.Add(true, append(make([]byte, 4), make([]byte, 28)...))
	f.Add(true, []byte{wire.KeepaliveByte})
	f.Add(false, []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 50, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 0, 0, 0x10, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, udp bool, data []byte) {
		const off = 16
		buf := make([]byte, off+len(data))
		copy(buf[off:], data)
		var d Datagram
		if udp {
			d = DemuxUDP(buf, off, len(data), netip.AddrPortFrom(netip.IPv4Unspecified(), 4500))
		} else {
			d = DemuxIP(buf, off, len(data))
		}
		switch d.Kind {
		case wire.KindESP:
			if d.ESPOff < off || d.ESPLen < wire.ESPHeaderLen || d.ESPOff+d.ESPLen > len(buf) {
				t.Fatalf("ESP at %d+%d outside the datagram at %d+%d", d.ESPOff, d.ESPLen, off, len(data))
			}
		case wire.KindIKE:
			if len(d.Body) < wire.IKEHeaderLen || len(d.Body) > len(data) {
				t.Fatalf("IKE message of %d bytes from a %d-byte datagram", len(d.Body), len(data))
			}
		}
	})
}

// FuzzInboundTableOpen hands arbitrary bytes, offsets and lengths to
// InboundTable.Open over a table of AEAD SAs without anti-replay (so that
// every input meets the same SAs, and a sealed seed opens every time).
// Open must never panic; each call must bump exactly one counter, of the
// table or of the SA it returns; it returns an SA only when one has the
// packet's SPI; and it succeeds only for a packet this test sealed, its
// payload inside the packet. Seeds in testdata/fuzz/FuzzInboundTableOpen.
func FuzzInboundTableOpen(f *testing.F) {
	ciphers := []esp.Cipher{esp.AES128GCM16, esp.AES256GCM16, esp.ChaCha20Poly1305}
	var tab InboundTable
	var sealedPkts [][]byte
	for i, c := range ciphers {
		spi := 0x1000 + uint32(i)
		key := make([]byte, c.KeyLen())
		for j := range key {
			key[j] = 0x5a + byte(j)*7
		}
		cfg := esp.Config{SPI: spi, Cipher: c, Key: key, NoAntiReplay: true} // no ESN: it needs the window
		rx, err := esp.NewSA(cfg)
		if err != nil {
			f.Fatal(err)
		}
		if err := tab.Add(rx); err != nil {
			f.Fatal(err)
		}
		tx, err := esp.NewSA(cfg)
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range []int{0, 3, 64} {
			// AEAD IVs are the sequence number: every process
			// seals the same packets.
			sealedPkts = append(sealedPkts, sealed(f, tx, bytes.Repeat([]byte{0x45}, n), esp.NextHeaderIPv4))
		}
	}
	const pos = esp.ScratchLen
	for _, p := range sealedPkts {
		f.Add(int32(pos), int32(len(p)), append(make([]byte, pos), p...))
	}
	f.Add(int32(pos), int32(3), append(make([]byte, pos), 0, 0, 0x10))
	f.Add(int32(2), int32(40), make([]byte, 42))
	f.Add(int32(-1), int32(4), make([]byte, 8))
	f.Add(int32(pos), int32(-4), make([]byte, 16))
	f.Fuzz(func(t *testing.T, off, n int32, buf []byte) {
		sum := func(sa *esp.SA) uint64 {
			tc := tab.Counters()
			total := tc.UnknownSPI + tc.Truncated
			if sa != nil {
				c := sa.Counters()
				total += c.OpenedPackets + c.Malformed + c.AuthFailed + c.Replayed + c.TooOld + c.BadPadding
			}
			return total
		}
		var in []byte // the packet as it came, before Open works on it
		inBuf := off >= 0 && n >= 0 && int64(off)+int64(n) <= int64(len(buf))
		if inBuf {
			in = append([]byte(nil), buf[off:off+n]...)
		}
		var spiSA *esp.SA
		if inBuf && n >= 4 {
			spiSA = tab.Lookup(binary.BigEndian.Uint32(in))
		}
		before := sum(spiSA)
		payload, _, sa, err := tab.Open(buf, int(off), int(n))
		if sa != spiSA {
			t.Fatalf("Open returned SA %v for a packet whose SPI names %v", sa, spiSA)
		}
		if got := sum(sa) - before; got != 1 {
			t.Fatalf("counters moved by %d, want 1 (err %v)", got, err)
		}
		if err != nil {
			if payload != nil {
				t.Fatalf("error %v with payload %x", err, payload)
			}
			return
		}
		if len(payload) > int(n) || cap(payload) > len(buf)-int(off) {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(payload), n)
		}
		for _, s := range sealedPkts {
			if bytes.Equal(s, in) {
				return
			}
		}
		t.Fatalf("Open accepted a packet nobody sealed: %x", in)
	})
}
