package ipsec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"flag"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// Golden captures pin the ESP wire format. For each cipher,
// testdata/esp-CIPHER.pcap (LINKTYPE_RAW) holds 12 packets from PE1 to PE2:
// four tunnels (outer IPv4 or IPv6, raw ESP or ESP-in-UDP 4500), one SA
// each, and through each SA an inner IPv4 ICMP echo, an inner ICMPv6 echo
// and an MPLS label stack (label 100, S=1) over an IPv4 echo, with
// sequence numbers 1, 2, 3. testdata/esp-CIPHER.sa lists the four SAs.
//
// Everything is deterministic for the AEADs: fixed keys, sequence numbers
// (package esp uses the sequence number as the AEAD IV), IPv4 IDs and
// timestamps. The AES-CBC suites' IVs are random (RFC 3602 wants them
// unpredictable, and package esp offers no way to choose them), so their
// captures hold the IVs of the -update run. So:
//
//   - TestGolden opens every packet with package esp and the keys from the
//     .sa file, checks the inner packet, and reseals it to the same bytes:
//     a change to the wire format fails here, on purpose. For AES-CBC the
//     reseal must match everything but IV, ciphertext and ICV, and the
//     captured packet must be exactly what RFC 3602 and RFC 4868, computed
//     with crypto/aes and crypto/hmac alone, make of the captured IV.
//   - TestGoldenTshark has tshark decrypt the same files with the same
//     keys: our bytes are ESP by someone else's reading of the RFCs.
//
// After a deliberate format change: go test ./ipsec -run Golden -update

var update = flag.Bool("update", false, "rewrite testdata/esp-*.pcap and .sa from the current code, then verify them")

var goldenCiphers = []string{"aes128gcm16", "aes256gcm16", "chacha20poly1305",
	"aes128-sha256", "aes128-sha384", "aes128-sha512", "aes256-sha256", "aes256-sha384", "aes256-sha512"}

var (
	pe1v4, pe2v4 = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	pe1v6, pe2v6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
)

// goldenTunnels are the outer encapsulations, as Decapsulate reports them
// back (so IPv6 UDP says UDPChecksum: it always has one).
var goldenTunnels = []struct {
	name string
	path wire.Path
}{
	{"ipv4-esp", wire.Path{Src: pe1v4, Dst: pe2v4, TTL: 64, DF: true}},
	{"ipv4-udp", wire.Path{Src: pe1v4, Dst: pe2v4, UDP: true, SrcPort: wire.PortNATT, DstPort: wire.PortNATT, TTL: 64, DF: true}},
	{"ipv6-esp", wire.Path{Src: pe1v6, Dst: pe2v6, TTL: 64}},
	{"ipv6-udp", wire.Path{Src: pe1v6, Dst: pe2v6, UDP: true, SrcPort: wire.PortNATT, DstPort: wire.PortNATT, UDPChecksum: true, TTL: 64}},
}

var goldenInners = []struct {
	name       string
	nextHeader uint8
	build      func(seq uint16) []byte
}{
	{"ipv4", esp.NextHeaderIPv4, innerIPv4},
	{"ipv6", esp.NextHeaderIPv6, innerIPv6},
	{"mpls", esp.NextHeaderMPLS, innerMPLS},
}

// goldenPacket is one record of a golden capture as the code would write it.
type goldenPacket struct {
	name       string
	sa         SALine
	path       wire.Path
	seq        uint64
	nextHeader uint8
	inner      []byte // the plaintext payload
	pkt        []byte // outer headers + ESP
}

// goldenSA returns the SA of tunnel ti for cipher ci. The SPI reads as
// "cipher, tunnel"; the key is the first KeyLen bytes of
// SHA-512("peregrine golden test key CIPHER SPI") (followed, for keys
// longer than 64 bytes, by SHA-512 of the same string and " more"): a
// fixed, public test key.
func goldenSA(t *testing.T, ci, ti int) SALine {
	name := goldenCiphers[ci]
	c, err := esp.ParseCipher(name)
	if err != nil {
		t.Fatal(err)
	}
	spi := uint32(0x1000*(ci+1) + ti + 1)
	sum := sha512.Sum512(fmt.Appendf(nil, "peregrine golden test key %s 0x%08x", name, spi))
	key := sum[:]
	if c.KeyLen() > len(key) { // AES-256 + HMAC-SHA-384/512 keys: 80 or 96 bytes
		more := sha512.Sum512(fmt.Appendf(nil, "peregrine golden test key %s 0x%08x more", name, spi))
		key = append(key, more[:]...)
	}
	p := goldenTunnels[ti].path
	return SALine{Src: p.Src, Dst: p.Dst, SPI: spi, Cipher: name, Key: key[:c.KeyLen()]}
}

// goldenSeal builds one packet with our code: a fresh SA whose next
// sequence number is seq, Seal in place, Encapsulate in the headroom.
func goldenSeal(t *testing.T, l SALine, path wire.Path, seq uint64, nextHeader uint8, inner []byte) []byte {
	t.Helper()
	c, err := esp.ParseCipher(l.Cipher)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := esp.NewSA(esp.Config{SPI: l.SPI, Cipher: c, Key: l.Key, InitialSeq: seq - 1})
	if err != nil {
		t.Fatal(err)
	}
	const off = wire.MaxOuterHeaderLen + esp.Headroom
	buf := make([]byte, off+len(inner)+esp.MaxTrailer)
	copy(buf[off:], inner)
	espPkt, err := sa.Seal(buf, off, len(inner), nextHeader)
	if err != nil {
		t.Fatal(err)
	}
	espOff := off - esp.HeaderLen - c.IVLen()
	start, err := wire.Encapsulate(buf, espOff, len(espPkt), path)
	if err != nil {
		t.Fatal(err)
	}
	return buf[start : espOff+len(espPkt)]
}

func goldenPackets(t *testing.T, ci int) (sas []SALine, pkts []goldenPacket) {
	t.Helper()
	for ti, tun := range goldenTunnels {
		l := goldenSA(t, ci, ti)
		sas = append(sas, l)
		for ii, in := range goldenInners {
			seq := uint64(ii + 1)
			inner := in.build(uint16(seq))
			pkts = append(pkts, goldenPacket{
				name: tun.name + "/" + in.name, sa: l, path: tun.path, seq: seq,
				nextHeader: in.nextHeader, inner: inner,
				pkt: goldenSeal(t, l, tun.path, seq, in.nextHeader, inner),
			})
		}
	}
	return sas, pkts
}

func goldenPath(cipher, ext string) string {
	return filepath.Join("testdata", "esp-"+cipher+ext)
}

func TestGolden(t *testing.T) {
	for ci, cipher := range goldenCiphers {
		t.Run(cipher, func(t *testing.T) {
			wantSAs, want := goldenPackets(t, ci)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				pkts := make([][]byte, len(want))
				for i, p := range want {
					pkts[i] = p.pkt
				}
				writePcap(t, goldenPath(cipher, ".pcap"), pkts)
				if err := writeSAFile(goldenPath(cipher, ".sa"), wantSAs); err != nil {
					t.Fatal(err)
				}
			}
			sas, err := readSAFile(goldenPath(cipher, ".sa"))
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if fmt.Sprint(sas) != fmt.Sprint(wantSAs) {
				t.Fatalf(".sa file\n got %v\nwant %v", sas, wantSAs)
			}
			records := readGoldenPcap(t, goldenPath(cipher, ".pcap"))
			if len(records) != len(want) {
				t.Fatalf("%d packets in capture, want %d", len(records), len(want))
			}
			opened := map[uint32]*esp.SA{} // one receiving SA per SPI, fed in order
			for i, w := range want {
				got := records[i]
				if !got.ts.Equal(goldenEpoch.Add(time.Duration(i) * time.Second)) {
					t.Errorf("%s: timestamp %v", w.name, got.ts)
				}
				checkGoldenOpen(t, w, got.data, sas, opened)
				if c, _ := esp.ParseCipher(cipher); !c.IsAEAD() {
					checkGoldenCBC(t, c, w, got.data)
				} else if !bytes.Equal(got.data, w.pkt) {
					t.Errorf("%s: resealing does not reproduce the capture (wire format changed?)\nresealed % x\ncaptured % x", w.name, w.pkt, got.data)
				}
			}
		})
	}
}

// checkGoldenOpen decapsulates and opens one captured packet with the key
// from the .sa file and compares the result with what was sealed.
func checkGoldenOpen(t *testing.T, w goldenPacket, data []byte, sas []SALine, opened map[uint32]*esp.SA) {
	t.Helper()
	pkt := append([]byte(nil), data...) // Open works in place
	o, espPkt, kind, err := wire.Decapsulate(pkt)
	if err != nil || kind != wire.KindESP {
		t.Errorf("%s: Decapsulate: kind %v, %v", w.name, kind, err)
		return
	}
	if o.Path != w.path {
		t.Errorf("%s: outer headers\n got %+v\nwant %+v", w.name, o.Path, w.path)
	}
	spi := binary.BigEndian.Uint32(espPkt)
	sa := opened[spi]
	if sa == nil {
		var line *SALine
		for i := range sas {
			if sas[i].SPI == spi && sas[i].Src == o.Src && sas[i].Dst == o.Dst {
				line = &sas[i]
			}
		}
		if line == nil {
			t.Errorf("%s: no SA in .sa file for SPI %#x %s -> %s", w.name, spi, o.Src, o.Dst)
			return
		}
		c, err := esp.ParseCipher(line.Cipher)
		if err != nil {
			t.Fatal(err)
		}
		if sa, err = esp.NewSA(esp.Config{SPI: spi, Cipher: c, Key: line.Key}); err != nil {
			t.Fatal(err)
		}
		opened[spi] = sa
	}
	payload, nh, err := sa.Open(pkt, o.HeaderLen, len(espPkt))
	if err != nil {
		t.Errorf("%s: Open: %v", w.name, err)
		return
	}
	if nh != w.nextHeader || !bytes.Equal(payload, w.inner) {
		t.Errorf("%s: opened next header %d, payload\n% x\nwant %d\n% x", w.name, nh, payload, w.nextHeader, w.inner)
	}
}

type pcapRecord struct {
	ts   time.Time
	data []byte
}

func readGoldenPcap(t *testing.T, path string) []pcapRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != pcap.LinkTypeRaw {
		t.Fatalf("link type %d, want %d (raw IP)", r.LinkType(), pcap.LinkTypeRaw)
	}
	var recs []pcapRecord
	for {
		ts, data, err := r.ReadPacket()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, pcapRecord{ts, data})
	}
}

// checkGoldenCBC checks a captured AES-CBC packet against the one our code
// sealed just now (w.pkt, with another random IV): the same length and the
// same bytes up to the IV (outer headers, SPI, sequence number); and the
// captured IV, ciphertext and ICV exactly what RFC 3602 and RFC 4868 make
// of the captured IV, the key and the plaintext RFC 4303 section 2.4 gives
// for w.inner, computed here with crypto/aes and crypto/hmac alone.
func checkGoldenCBC(t *testing.T, c esp.Cipher, w goldenPacket, data []byte) {
	t.Helper()
	o, espPkt, _, err := wire.Decapsulate(data)
	if err != nil {
		t.Errorf("%s: Decapsulate: %v", w.name, err)
		return
	}
	// Our outer headers around the captured ESP packet (the IPv6 UDP
	// checksum covers the random IV and what follows).
	buf := make([]byte, wire.MaxOuterHeaderLen+len(espPkt))
	copy(buf[wire.MaxOuterHeaderLen:], espPkt)
	start, err := wire.Encapsulate(buf, wire.MaxOuterHeaderLen, len(espPkt), w.path)
	if err != nil {
		t.Fatal(err)
	}
	ivAt := o.HeaderLen + esp.HeaderLen
	if len(data) != len(w.pkt) || !bytes.Equal(data[o.HeaderLen:ivAt], w.pkt[o.HeaderLen:ivAt]) ||
		!bytes.Equal(buf[start:], data) {
		t.Errorf("%s: resealing does not reproduce the capture up to the IV (wire format changed?)\nresealed % x\ncaptured % x", w.name, w.pkt, data)
		return
	}
	aesLen := c.KeyLen() - 2*c.ICVLen() // AES key, then the HMAC key: twice the ICV
	iv := espPkt[esp.HeaderLen : esp.HeaderLen+esp.CBCIVLen]
	ref := refSealCBC(t, w.sa.Key[:aesLen], w.sa.Key[aesLen:], c.ICVLen(), espPkt[:esp.HeaderLen], iv,
		espPlaintextBlock(w.inner, w.nextHeader, 16))
	if !bytes.Equal(espPkt, ref) {
		t.Errorf("%s: captured ESP packet is not RFC 3602 + 4868 of its IV\ncaptured  % x\ncomputed  % x", w.name, espPkt, ref)
	}
}

// refSealCBC builds an ESP packet from RFC 3602 and RFC 4868 (no ESN):
// header || IV || AES-CBC(plain) || HMAC(header..ciphertext) truncated to
// icvLen, the hash picked by the HMAC key's length (32, 48, 64 bytes).
func refSealCBC(t *testing.T, aesKey, macKey []byte, icvLen int, header, iv, plain []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	pkt := append(append([]byte(nil), header...), iv...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	pkt = append(pkt, ct...)
	h := map[int]func() hash.Hash{32: sha256.New, 48: sha512.New384, 64: sha512.New}[len(macKey)]
	mac := hmac.New(h, macKey)
	mac.Write(pkt)
	return append(pkt, mac.Sum(nil)[:icvLen]...)
}
