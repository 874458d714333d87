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
// independent implementation: OpenSSL, through Python's cryptography
// package (AEADs, and AES-CBC after checking the truncated HMAC). It matters most for ChaCha20-Poly1305, which the tshark of
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
				wantPT := espPlaintext(w.inner, w.nextHeader)
				if strings.Contains(cipher, "-sha") {
					wantPT = espPlaintextBlock(w.inner, w.nextHeader, 16)
				}
				if !bytes.Equal(pt, wantPT) {
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
	return espPlaintextBlock(p, nextHeader, 4)
}

// espPlaintextBlock is espPlaintext padded to a multiple of block bytes
// (16 for AES-CBC, RFC 3602 section 2.4).
func espPlaintextBlock(p []byte, nextHeader uint8, block int) []byte {
	out := append([]byte(nil), p...)
	padLen := (block - (len(p)+2)%block) % block
	for i := 1; i <= padLen; i++ {
		out = append(out, byte(i))
	}
	return append(out, byte(padLen), nextHeader)
}

// opensslESPScript reads "cipher keyhex esphex" lines and prints the
// plaintext in hex, or "FAIL reason", for each.
const opensslESPScript = `
import sys
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
def cbc(cipher, key, esp):
    # RFC 3602 + RFC 4868: AES key || HMAC key; ICV = first half of the
    # HMAC over SPI .. ciphertext; IV = the 16 bytes after the header.
    aes, sha = cipher.split("-")
    alg = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[sha]()
    enc, mac = key[:16 if aes == "aes128" else 32], key[16 if aes == "aes128" else 32:]
    n = alg.digest_size // 2
    body, icv = esp[:-n], esp[-n:]
    h = hmac.HMAC(mac, alg)
    h.update(body)
    if h.finalize()[:n] != icv:
        return "FAIL ICV"
    d = Cipher(algorithms.AES(enc), modes.CBC(body[8:24])).decryptor()
    return (d.update(body[24:]) + d.finalize()).hex()
for line in sys.stdin:
    cipher, key, esp = line.split()
    key, esp = bytes.fromhex(key), bytes.fromhex(esp)
    if "-sha" in cipher:
        print(cbc(cipher, key, esp))
        continue
    enc, salt = key[:-4], key[-4:]
    aead = ChaCha20Poly1305(enc) if cipher == "chacha20poly1305" else AESGCM(enc)
    aad, iv, body = esp[:8], esp[8:16], esp[16:]
    try:
        print(aead.decrypt(salt + iv, body, aad).hex())
    except Exception as e:
        print("FAIL", type(e).__name__)
`
