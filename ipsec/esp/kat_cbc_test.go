package esp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// cbcBlockVector is one of RFC 3602 section 4's cases 1 to 4: AES-128-CBC
// on whole blocks, no ESP around it.
type cbcBlockVector struct {
	name, key, iv, plain, cipher string
}

var rfc3602Blocks = []cbcBlockVector{
	{"case1", "06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
		hex.EncodeToString([]byte("Single block msg")),
		"e353779c1079aeb82708942dbe77181a"},
	{"case2", "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
		"000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f",
		"d296cd94c2cccf8a3a863028b5e1dc0a 7586602d253cfff91b8266bea6d61ab1"},
	{"case3", "6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
		hex.EncodeToString([]byte("This is a 48-byte message (exactly 3 AES blocks)")),
		"d0a02b3836451753d493665d33f0e886 2dea54cdb293abc7506939276772f8d5 021c19216bad525c8579695d83ba2684"},
	{"case4", "56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf b0b1b2b3b4b5b6b7b8b9babbbcbdbebf c0c1c2c3c4c5c6c7c8c9cacbcccdcecf d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
		"c30e32ffedc0774e6aff6af0869f71aa 0f3af07a9a31a9c684db207eb0ef8e4e 35907aa632c3ffdf868bb7b29d3d46ad 83ce9f9a102ee99d49a53e87f4c3da55"},
}

// TestRFC3602Blocks runs RFC 3602 cases 1-4 through the CBC modes the
// engine keeps in its per-call working state (the ones Seal and Open use,
// IV set with SetIV), both ways, reusing one working set for every case.
func TestRFC3602Blocks(t *testing.T) {
	var s *cbcSuite
	var w *cbcWork
	for _, v := range rfc3602Blocks {
		key := append(unhex(t, v.key), make([]byte, 32)...) // AES key || HMAC key
		suite, err := newCBCSuite(AES128CBCSHA256, key)
		if err != nil {
			t.Fatal(err)
		}
		if w != nil {
			s.put(w)
		}
		s, w = suite, suite.get()
		plain, want := unhex(t, v.plain), unhex(t, v.cipher)
		buf := append([]byte(nil), plain...)
		w.enc.SetIV(unhex(t, v.iv))
		w.enc.CryptBlocks(buf, buf)
		if !bytes.Equal(buf, want) {
			t.Errorf("%s: encrypt\n got %x\nwant %x", v.name, buf, want)
		}
		w.dec.SetIV(unhex(t, v.iv))
		w.dec.CryptBlocks(buf, buf)
		if !bytes.Equal(buf, plain) {
			t.Errorf("%s: decrypt\n got %x\nwant %x", v.name, buf, plain)
		}
	}
}

// cbcESPVector is one of RFC 3602 section 4's cases 5 to 8: an ESP packet
// with AES-128-CBC and no integrity check (the RFC predates our suites),
// with its SPI, sequence number, IV, payload and next header.
type cbcESPVector struct {
	name    string
	key     string
	spi     uint32
	seq     uint64
	iv      string
	payload string
	nh      uint8
	packet  string // SPI .. ciphertext, without ICV
}

var rfc3602ESP = []cbcESPVector{
	{"case5", "90d382b410eeba7ad938c46cec1a82bf", 0x4321, 1, "e96e8c08ab465763fd098d45dd3ff893",
		// transport mode ICMP echo request
		"08000ebda70a00008e9c083db95b0700 08090a0b0c0d0e0f1011121314151617 18191a1b1c1d1e1f2021222324252627 28292a2b2c2d2e2f3031323334353637",
		1,
		"00004321 00000001 e96e8c08ab465763fd098d45dd3ff893 " +
			"f663c25d325c18c6a9453e194e120849 a4870b66cc6b9965330013b4898dc856 a4699e523a55db080b59ec3a8e4b7e52 " +
			"775b07d1db34ed9c538ab50c551b874a a269add047ad2d5913ac19b7cfbad4a6"},
	{"case6", "90d382b410eeba7ad938c46cec1a82bf", 0x4321, 8, "69d08df7d203329db093fc4924e5bd80",
		"0800b5e8a80a0500a69c083d0b660e00 777777777777777777777777",
		1,
		"00004321 00000008 69d08df7d203329db093fc4924e5bd80 " +
			"f51995881ec4e0c4488987ce742e8109 689bb379d2d750c0d915dca346a89f75"},
	{"case7", "0123456789abcdef0123456789abcdef", 0x8765, 2, "f4e765244f6407adf13dc1380f673f37",
		// tunnel mode: an inner IPv4 ICMP echo request
		"45000054090400004001f988c0a87b03 c0a87bc808009f76a90a0100b49c083d 02a2040008090a0b0c0d0e0f10111213 " +
			"1415161718191a1b1c1d1e1f20212223 2425262728292a2b2c2d2e2f30313233 34353637",
		4,
		"00008765 00000002 f4e765244f6407adf13dc1380f673f37 " +
			"773b5241a4c449225e4f3ce5ed611b0c 237ca96cf74a93013c1b0ea1a0cf70f8 e4ecaec78ac53aad7a0f022b859243c6 " +
			"47752e94a859352b8a4d4d2decd136e5 c177f132ad3fbfb2201ac9904c74ee0a 109e0ca1e4dfe9d5a100b842f1c22f0d"},
	{"case8", "0123456789abcdef0123456789abcdef", 0x8765, 5, "85d47224b5f3dd5d2101d4ea8dffab22",
		"45000044090c00004001f990c0a87b03 c0a87bc80800d63caa0a0200c69c083d a3de0300ffffffffffffffffffffffff ffffffffffffffffffffffffffffffff ffffffff",
		4,
		"00008765 00000005 85d47224b5f3dd5d2101d4ea8dffab22 " +
			"15b92683819596a8047232cc00f7048f e45318e11f8a0f62ede3c3fc61203bb5 0f980a08c9843fd3a1b06d5c07ff9639 " +
			"b7eb7dfb3512e5de435e7207ed971ef3 d2726d9b5ef6affc6d17a0decbb13892"},
}

// TestRFC3602ESP seals the payloads of RFC 3602 cases 5-8 with Seal (the
// vector's key, SPI, sequence number and IV; padding 1, 2, 3, ... as the
// RFC's) and compares everything up to the ICV with the published packet.
// The ICV, which the RFC does not have, is then checked against an
// HMAC-SHA-256 computed with crypto/hmac, and Open takes the packet back.
func TestRFC3602ESP(t *testing.T) {
	for _, v := range rfc3602ESP {
		t.Run(v.name, func(t *testing.T) {
			const c = AES128CBCSHA256
			key := append(unhex(t, v.key), testKey(c, 3)[16:]...)
			cfg := Config{SPI: v.spi, Cipher: c, Key: key, InitialSeq: v.seq - 1}
			tx, rx := mustSA(t, cfg), mustSA(t, cfg)
			payload, want := unhex(t, v.payload), unhex(t, v.packet)
			pkt := sealFixedIV(t, tx, payload, v.nh, fixedIV{cbc: (*[CBCIVLen]byte)(unhex(t, v.iv))})
			if got := pkt[:len(pkt)-c.ICVLen()]; !bytes.Equal(got, want) {
				t.Fatalf("Seal\n got %x\nwant %x", got, want)
			}
			if _, err := rfcOpenCBC(t, c, key, v.seq, false, pkt); err != nil {
				t.Fatalf("crypto/hmac disagrees with the ICV: %v", err)
			}
			got, nh, err := open(rx, pkt)
			if err != nil || nh != v.nh || !bytes.Equal(got, payload) {
				t.Fatalf("Open = nh %d %x, %v; want nh %d %x", nh, got, err, v.nh, payload)
			}
		})
	}
}

// macVector is a published HMAC-SHA2 result: RFC 4231 section 4 (keys of
// any length) or RFC 4868 section 2.7.2 (keys as long as the hash output,
// as ESP uses them), full length; ESP sends the first half.
type macVector struct {
	name   string
	cipher Cipher // picks the hash
	key    string // hex
	data   string // hex
	mac    string // full HMAC output, hex
}

var macVectors = func() []macVector {
	hx := func(s string) string { return hex.EncodeToString([]byte(s)) }
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	hiThere, jefe := hx("Hi There"), hx("what do ya want for nothing?")
	return []macVector{
		// RFC 4231 test case 1: 20-byte key 0x0b...
		{"rfc4231/1", AES128CBCSHA256, rep("0b", 20), hiThere,
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"rfc4231/1", AES128CBCSHA384, rep("0b", 20), hiThere,
			"afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{"rfc4231/1", AES128CBCSHA512, rep("0b", 20), hiThere,
			"87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde" +
				"daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		// RFC 4231 test case 2: key "Jefe".
		{"rfc4231/2", AES256CBCSHA256, hx("Jefe"), jefe,
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"rfc4231/2", AES256CBCSHA384, hx("Jefe"), jefe,
			"af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
		{"rfc4231/2", AES256CBCSHA512, hx("Jefe"), jefe,
			"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554" +
				"9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		// RFC 4868 AUTH256-1, AUTH384-1, AUTH512-1: key 0x0b as long as
		// the hash output.
		{"rfc4868/auth256-1", AES128CBCSHA256, rep("0b", 32), hiThere,
			"198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
		{"rfc4868/auth384-1", AES256CBCSHA384, rep("0b", 48), hiThere,
			"b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc4c5df61d5b3297b4fb68dab9f1b582c2"},
		{"rfc4868/auth512-1", AES128CBCSHA512, rep("0b", 64), hiThere,
			"637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8" +
				"ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"},
		// RFC 4868 AUTH256-2, AUTH384-2, AUTH512-2: "Jefe" repeated to
		// the hash output's length.
		{"rfc4868/auth256-2", AES256CBCSHA256, rep(hx("Jefe"), 8), jefe,
			"167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6"},
		{"rfc4868/auth384-2", AES128CBCSHA384, rep(hx("Jefe"), 12), jefe,
			"2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5349524ca4e82400cbde0686d403371c9"},
		{"rfc4868/auth512-2", AES256CBCSHA512, rep(hx("Jefe"), 16), jefe,
			"cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b154546aa334ae9fb9afc2184932d8695e397bfa0ffb93466cfcceaae38c833b7dba38"},
	}
}()

// TestHMACVectors runs RFC 4231 and RFC 4868 vectors through the engine's
// MAC (cbcSuite.mac with a pooled working set, as Seal and Open call it):
// the truncated ICV it returns is the first half of the published HMAC,
// and the full output it computed is the published HMAC.
func TestHMACVectors(t *testing.T) {
	for _, v := range macVectors {
		t.Run(v.name+"/"+v.cipher.String(), func(t *testing.T) {
			key := append(make([]byte, v.cipher.cbcKeyLen()), unhex(t, v.key)...)
			s, err := newCBCSuite(v.cipher, key)
			if err != nil {
				t.Fatal(err)
			}
			w := s.get()
			defer s.put(w)
			want := unhex(t, v.mac)
			for range 2 { // the second time through a Reset working set
				icv := s.mac(w, unhex(t, v.data), false, 0)
				if len(icv) != v.cipher.ICVLen() || len(want) != 2*len(icv) {
					t.Fatalf("ICV %d bytes, hash %d bytes", len(icv), len(want))
				}
				if !bytes.Equal(icv, want[:len(icv)]) {
					t.Fatalf("ICV\n got %x\nwant %x", icv, want[:len(icv)])
				}
				if full := w.sum[:len(want)]; !bytes.Equal(full, want) {
					t.Fatalf("HMAC\n got %x\nwant %x", full, want)
				}
			}
		})
	}
}

// TestCBCNoDecryptBeforeICV: Open checks the ICV before it decrypts, so a
// packet with a bad ICV leaves the ciphertext in the buffer as it came
// (nothing was run through the block cipher), and the window unmoved.
func TestCBCNoDecryptBeforeICV(t *testing.T) {
	for _, c := range cbcCiphers {
		tx, rx := pair(t, c, false)
		pkt := seal(t, tx, payloadFor(NextHeaderIPv4, 100), NextHeaderIPv4)
		pkt[len(pkt)-1] ^= 1
		buf := make([]byte, ScratchLen+len(pkt))
		copy(buf[ScratchLen:], pkt)
		if _, _, err := rx.Open(buf, ScratchLen, len(pkt)); err != ErrAuthFailed {
			t.Fatalf("%s: Open = %v, want ErrAuthFailed", c, err)
		}
		if !bytes.Equal(buf[ScratchLen+HeaderLen:], pkt[HeaderLen:]) {
			t.Errorf("%s: a packet that failed authentication was decrypted in place", c)
		}
		if rx.window.Top() != 0 {
			t.Errorf("%s: a packet that failed authentication moved the window", c)
		}
	}
}

// TestCBCIVs: the IVs of one SA never repeat, are not the sequence number,
// and two SAs with the same key and sequence numbers (a restarted peer,
// say) draw different IVs: each has its own random IV key.
func TestCBCIVs(t *testing.T) {
	const c, n = AES128CBCSHA256, 5000
	tx1, tx2 := pair(t, c, false)
	seen := make(map[[CBCIVLen]byte]bool, 2*n)
	for i := range n {
		for _, tx := range []*SA{tx1, tx2} {
			pkt := seal(t, tx, nil, NoNextHeader)
			iv := [CBCIVLen]byte(pkt[HeaderLen : HeaderLen+CBCIVLen])
			if seen[iv] {
				t.Fatalf("packet %d: IV %x used before", i, iv)
			}
			seen[iv] = true
			if seq := binary.BigEndian.Uint64(iv[:8]); seq == uint64(i+1) || bytes.Equal(iv[:8], pkt[0:8]) {
				t.Fatalf("packet %d: IV %x is the counter or the header", i, iv)
			}
		}
	}
}
