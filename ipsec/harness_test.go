package ipsec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// TestTsharkHarness proves the tshark oracle before anything relies on it:
// an ESP packet built here by hand, straight from RFC 4303 and RFC 4106
// with crypto/aes and cipher.NewGCM (no code from package esp), must be
// decrypted and authenticated by tshark, raw and in UDP 4500; and the same
// packets under a wrong key must not be, so a check built on this harness
// can fail.
func TestTsharkHarness(t *testing.T) {
	requireTshark(t)
	key := []byte{ // AES-128 key || salt: fixed public test key
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0xca, 0xfe, 0xba, 0xbe, // salt
	}
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	const spi = 0x0000abcd
	inner := innerIPv4(1)

	var pkts [][]byte
	for _, c := range []struct {
		seq uint32
		udp bool
	}{{7, false}, {8, true}} {
		esp := handSealGCM(t, key, spi, c.seq, inner, 4 /* IPv4 */)
		buf := make([]byte, wire.MaxOuterHeaderLen+len(esp))
		copy(buf[wire.MaxOuterHeaderLen:], esp)
		off, err := wire.Encapsulate(buf, wire.MaxOuterHeaderLen, len(esp), wire.Path{Src: src, Dst: dst, UDP: c.udp})
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, buf[off:])
	}
	path := filepath.Join(t.TempDir(), "harness.pcap")
	writePcap(t, path, pkts)

	good := SALine{Src: src, Dst: dst, SPI: spi, Cipher: "aes128gcm16", Key: key}
	frames := parseTsharkOutput(t, tsharkDecode(t, path, []SALine{good}))
	if len(frames) != 2 {
		t.Fatalf("tshark shows %d frames, want 2", len(frames))
	}
	for _, f := range frames {
		if f["esp.icv_good"] != "1" || f["ip.src"] != "192.0.2.1,10.1.0.1" || f["ip.dst"] != "198.51.100.2,10.2.0.1" ||
			f["icmp.type"] != "8" || f["icmp.checksum.status"] != "1" || f["esp.protocol"] != "0x04" {
			t.Errorf("frame %s not decrypted as expected: %v", f["frame.number"], f)
		}
	}
	if frames[0]["udp.dstport"] != "" || frames[1]["udp.dstport"] != "4500" {
		t.Errorf("raw and UDP frames: udp.dstport %q, %q", frames[0]["udp.dstport"], frames[1]["udp.dstport"])
	}

	bad := good
	bad.Key = append([]byte(nil), key...)
	bad.Key[0] ^= 0x80
	for _, f := range parseTsharkOutput(t, tsharkDecode(t, path, []SALine{bad})) {
		if f["esp.icv_good"] != "0" || f["icmp.type"] != "" || f["ip.src"] != "192.0.2.1" {
			t.Errorf("frame %s under a wrong key still shows an inner packet: %v", f["frame.number"], f)
		}
	}
}

// handSealGCM builds an ESP packet the long way, for the harness only:
// SPI, sequence number, an 8-byte explicit IV (deliberately not the
// sequence number, unlike package esp), and the AES-GCM encryption of
// payload || padding 1,2,3.. || pad length || next header, the AAD being
// SPI || sequence number (RFC 4106 section 5) and the nonce salt || IV.
func handSealGCM(t *testing.T, key []byte, spi, seq uint32, payload []byte, nextHeader byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key[:len(key)-4])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.BigEndian.AppendUint32(nil, spi)
	hdr = binary.BigEndian.AppendUint32(hdr, seq)
	iv := []byte{0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, byte(seq)}
	pt := append([]byte(nil), payload...)
	padLen := (4 - (len(pt)+2)%4) % 4 // end on a 4-byte boundary (RFC 4303 2.4)
	for i := 1; i <= padLen; i++ {
		pt = append(pt, byte(i))
	}
	pt = append(pt, byte(padLen), nextHeader)
	nonce := append(append([]byte(nil), key[len(key)-4:]...), iv...)
	return gcm.Seal(append(hdr, iv...), nonce, pt, hdr)
}
