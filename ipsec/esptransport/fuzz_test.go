package esptransport

import (
	"net/netip"
	"testing"

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
