package ipsec

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// TestGoldenOpenSSL decrypts every golden packet with a second
// independent AEAD implementation: OpenSSL, through Python's cryptography
// package. It matters most for ChaCha20-Poly1305, which the tshark of
// Debian 12 (Wireshark 4.0) cannot decrypt. The script is given only the
// key material and the ESP bytes, and rebuilds nonce (salt || IV) and AAD
// (SPI || sequence number) itself from RFC 4106 section 4-5 and RFC 7634
// section 2-3; the test checks the plaintext is inner packet || padding
// 1, 2, .. || pad length || next header.
func TestGoldenOpenSSL(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: install python3-cryptography to check golden ESP packets with OpenSSL")
	}
	if out, err := exec.Command(py, "-c", "import cryptography").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import cryptography (%v: %s): install python3-cryptography to check golden ESP packets with OpenSSL", err, strings.TrimSpace(string(out)))
	}
	for ci, cipher := range goldenCiphers {
		t.Run(cipher, func(t *testing.T) {
			_, want := goldenPackets(t, ci)
			records := readGoldenPcap(t, goldenPath(cipher, ".pcap"))
			if len(records) != len(want) {
				t.Fatalf("%d packets in capture, want %d", len(records), len(want))
			}
			var in strings.Builder
			for i, w := range want {
				_, espPkt, _, err := wire.Decapsulate(records[i].data)
				if err != nil {
					t.Fatalf("%s: %v", w.name, err)
				}
				fmt.Fprintf(&in, "%s %x %x\n", cipher, w.sa.Key, espPkt)
			}
			cmd := exec.Command(py, "-c", opensslESPScript)
			cmd.Stdin = strings.NewReader(in.String())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python3: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(want) {
				t.Fatalf("script printed %d lines, want %d:\n%s", len(lines), len(want), out)
			}
			for i, w := range want {
				pt, err := hex.DecodeString(lines[i])
				if err != nil {
					t.Errorf("%s: OpenSSL did not open the packet: %s", w.name, lines[i])
					continue
				}
				if wantPT := espPlaintext(w.inner, w.nextHeader); !bytes.Equal(pt, wantPT) {
					t.Errorf("%s: OpenSSL plaintext\n% x\nwant\n% x", w.name, pt, wantPT)
				}
			}
		})
	}
}

// espPlaintext is what RFC 4303 section 2.4 says the encrypted part of an
// ESP packet holds for payload p, with the minimum padding that a block
// size of 1 (GCM, ChaCha20) and the 4-byte alignment require.
func espPlaintext(p []byte, nextHeader uint8) []byte {
	out := append([]byte(nil), p...)
	padLen := (4 - (len(p)+2)%4) % 4
	for i := 1; i <= padLen; i++ {
		out = append(out, byte(i))
	}
	return append(out, byte(padLen), nextHeader)
}

// opensslESPScript reads "cipher keyhex esphex" lines and prints the
// plaintext in hex, or "FAIL reason", for each.
const opensslESPScript = `
import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
for line in sys.stdin:
    cipher, key, esp = line.split()
    key, esp = bytes.fromhex(key), bytes.fromhex(esp)
    enc, salt = key[:-4], key[-4:]
    aead = ChaCha20Poly1305(enc) if cipher == "chacha20poly1305" else AESGCM(enc)
    aad, iv, body = esp[:8], esp[8:16], esp[16:]
    try:
        print(aead.decrypt(salt + iv, body, aad).hex())
    except Exception as e:
        print("FAIL", type(e).__name__)
`
