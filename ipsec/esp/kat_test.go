package esp

import (
	"bytes"
	"testing"
)

// katVector is a published ESP packet. plain is the encrypted part before
// encryption: payload, padding, pad length, next header. packet is the
// whole ESP packet: SPI, sequence number (low 32 bits), IV, ciphertext, ICV.
type katVector struct {
	name   string
	cipher Cipher
	key    string // cipher key || 4-byte salt
	spi    uint32
	seq    uint64 // full sequence number (high half only in the AAD)
	esn    bool   // 12-byte AAD
	iv     uint64
	plain  string
	packet string
}

// chachaVector is the ESP example of RFC 7634 appendix A: a tunnel-mode
// ICMP echo request from 198.51.100.5 to 192.0.2.5.
var chachaVector = katVector{
	name:   "rfc7634/appendixA",
	cipher: ChaCha20Poly1305,
	key: "808182838485868788898a8b8c8d8e8f" + // KEYMAT: key
		"909192939495969798999a9b9c9d9e9f" +
		"a0a1a2a3", // salt
	spi: 0x01020304,
	seq: 5,
	iv:  0x1011121314151617,
	plain: "45000054a6f200004001e778c6336405" + // IPv4 ICMP echo
		"c000020508005b7a3a080000553bec10" +
		"0007362708090a0b0c0d0e0f10111213" +
		"1415161718191a1b1c1d1e1f20212223" +
		"2425262728292a2b2c2d2e2f30313233" +
		"34353637" +
		"0102" + // padding
		"02" + // pad length
		"04", // next header: IPv4
	packet: "01020304" + // SPI
		"00000005" + // sequence number
		"1011121314151617" + // IV
		"24039428b97f417e3c13753a4f05087b" + // ciphertext
		"67c352e6a7fab1b982d466ef407ae5c6" +
		"14ee8099d52844eb61aa95dfab4c02f7" +
		"2aa71e7c4c4f64c9befe2facc638e8f3" +
		"cbec163fac469b502773f6fb94e664da" +
		"9165b82829f641e0" +
		"76aaa8266b7fb0f7b11b369907e1ad43", // ICV
}

// TestKnownAnswers seals each vector's payload with the vector's SPI,
// sequence number and IV and compares the packet byte for byte, then opens
// the published packet and compares payload and next header.
func TestKnownAnswers(t *testing.T) {
	vectors := append(append([]katVector(nil), gcmVectors...), chachaVector)
	esnCases := 0
	for _, v := range vectors {
		if v.esn {
			esnCases++
		}
		t.Run(v.name, func(t *testing.T) {
			plain, want := unhex(t, v.plain), unhex(t, v.packet)
			nh := plain[len(plain)-1]
			pad := int(plain[len(plain)-2])
			payload := plain[:len(plain)-2-pad]
			cfg := Config{SPI: v.spi, Cipher: v.cipher, Key: unhex(t, v.key), ESN: v.esn, InitialSeq: v.seq - 1}

			tx := mustSA(t, cfg)
			iv := v.iv
			if got := sealFixedIV(t, tx, payload, nh, fixedIV{aead: &iv}); !bytes.Equal(got, want) {
				t.Fatalf("Seal:\n got %x\nwant %x", got, want)
			}

			cfg.InitialSeq = 0
			rx := mustSA(t, cfg)
			if v.seq > 1 {
				// Put the window where a receiver that saw the
				// previous packet would have it, so that the
				// high half of an ESN is inferred as 0x....
				if err := rx.window.Update(v.seq - 1); err != nil {
					t.Fatal(err)
				}
			}
			got, gotNH, err := open(rx, want)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, payload) || gotNH != nh {
				t.Fatalf("Open = %x nh %d, want %x nh %d", got, gotNH, payload, nh)
			}
		})
	}
	if esnCases == 0 {
		t.Fatal("no vector with a 12-byte (ESN) AAD")
	}
}
