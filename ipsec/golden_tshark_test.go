package ipsec

import (
	"fmt"
	"strings"
	"testing"
)

// TestGoldenTshark has tshark decrypt every golden capture with the keys
// from its .sa file and checks, frame by frame, that the ICV verified and
// that the inner packet we sealed is the one tshark sees: inner addresses
// and ICMP/ICMPv6 echo type with a good ICMP checksum, and for next header
// 137 the MPLS label 100 with the bottom-of-stack bit over the inner IPv4
// packet. A transform this tshark cannot decrypt (ChaCha20-Poly1305 in
// Wireshark 4.0) skips with tshark's own refusal; TestGoldenOpenSSL still
// checks it with an independent implementation.
func TestGoldenTshark(t *testing.T) {
	requireTshark(t)
	for ci, cipher := range goldenCiphers {
		t.Run(cipher, func(t *testing.T) {
			tsharkSupports(t, cipher)
			sas, err := readSAFile(goldenPath(cipher, ".sa"))
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			_, want := goldenPackets(t, ci)
			frames := parseTsharkOutput(t, tsharkDecode(t, goldenPath(cipher, ".pcap"), sas))
			if len(frames) != len(want) {
				t.Fatalf("tshark shows %d frames, want %d", len(frames), len(want))
			}
			for i, w := range want {
				for _, problem := range tsharkMismatches(frames[i], w) {
					t.Errorf("frame %d (%s): %s", i+1, w.name, problem)
				}
			}
		})
	}
}

// tsharkMismatches lists how tshark's view of one frame differs from the
// packet we sealed; nil means it matches.
func tsharkMismatches(f tsharkFrame, w goldenPacket) []string {
	var bad []string
	expect := func(field, got, want string) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s = %q, want %q", field, got, want))
		}
	}
	expect("esp.spi", f["esp.spi"], fmt.Sprintf("0x%08x", w.sa.SPI))
	expect("esp.sequence", f["esp.sequence"], fmt.Sprint(w.seq))
	expect("esp.icv_good", f["esp.icv_good"], "1")
	expect("esp.protocol (next header)", f["esp.protocol"], fmt.Sprintf("0x%02x", w.nextHeader))

	// Outer headers: the first occurrence of the outer family's fields.
	outerSrc, outerDst := "ip.src", "ip.dst"
	if w.path.Src.Is6() {
		outerSrc, outerDst = "ipv6.src", "ipv6.dst"
	}
	expect("outer "+outerSrc, first(f[outerSrc]), w.path.Src.String())
	expect("outer "+outerDst, first(f[outerDst]), w.path.Dst.String())
	udp := ""
	if w.path.UDP {
		udp = "4500"
	}
	expect("udp.dstport", f["udp.dstport"], udp)

	// Inner packet: the last occurrence, i.e. what tshark found inside ESP.
	switch w.nextHeader {
	case 4, 137:
		expect("inner ip.src", f.last("ip.src"), innerSrc4.String())
		expect("inner ip.dst", f.last("ip.dst"), innerDst4.String())
		expect("icmp.type", f["icmp.type"], "8")
		expect("icmp.checksum.status", f["icmp.checksum.status"], "1")
	case 41:
		expect("inner ipv6.src", f.last("ipv6.src"), innerSrc6.String())
		expect("inner ipv6.dst", f.last("ipv6.dst"), innerDst6.String())
		expect("icmpv6.type", f["icmpv6.type"], "128")
		expect("icmpv6.checksum.status", f["icmpv6.checksum.status"], "1")
	}
	mpls, bottom := "", ""
	if w.nextHeader == 137 {
		mpls, bottom = "100", "1"
	}
	expect("mpls.label", f["mpls.label"], mpls)
	expect("mpls.bottom", f["mpls.bottom"], bottom)
	return bad
}

func first(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		return v[:i]
	}
	return v
}
