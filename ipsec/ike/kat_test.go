package ike

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 7748 section 6.1: Alice and Bob.
func TestX25519RFC7748(t *testing.T) {
	a, _ := ecdh.X25519().NewPrivateKey(unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	alice := ecdhShare{a}
	if got := hex.EncodeToString(alice.public()); got != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" {
		t.Fatalf("Alice's public key %s", got)
	}
	k, err := alice.shared(unhex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
	if err != nil || hex.EncodeToString(k) != "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" {
		t.Fatalf("K = %x, %v", k, err)
	}
	// A small-order point gives the all-zero value, which RFC 8031
	// section 2 says to reject.
	if _, err := alice.shared(make([]byte, 32)); err != ErrBadKE {
		t.Fatalf("zero point: %v", err)
	}
}

// RFC 5903 section 8.1: the 256-bit random ECP group. The KE payload is
// x || y and the shared secret is x only (section 9, as corrected).
func TestECP256RFC5903(t *testing.T) {
	i, _ := ecdh.P256().NewPrivateKey(unhex(t, "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"))
	s := ecdhShare{i}
	gi := "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180" +
		"5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3"
	if !bytes.Equal(s.public(), unhex(t, gi)) {
		t.Fatalf("g^i = %X", s.public())
	}
	gr := unhex(t, "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"+
		"56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB")
	z, err := s.shared(gr)
	if err != nil || !bytes.Equal(z, unhex(t, "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")) {
		t.Fatalf("g^ir = %X, %v", z, err)
	}
	gr[63] ^= 1 // off the curve
	if _, err := s.shared(gr); err != ErrBadKE {
		t.Fatalf("off-curve point: %v", err)
	}
}

// RFC 3526 section 3 gives the 2048-bit MODP prime in hex; no published
// DH vector exists for IKE's use of it, so the test checks the prime's
// shape (a safe prime with 64 one bits at each end, as the RFC's formula
// makes it) and that two keys agree. strongSwan interop exercises it too.
func TestModp2048(t *testing.T) {
	p := modp2048P
	if p.BitLen() != 2048 || !p.ProbablyPrime(0) {
		t.Fatal("p is not a 2048-bit prime")
	}
	q := new(big.Int).Rsh(p, 1)
	if !q.ProbablyPrime(0) {
		t.Fatal("(p-1)/2 is not prime")
	}
	ones := new(big.Int).SetUint64(^uint64(0))
	if new(big.Int).And(p, ones).Cmp(ones) != 0 || new(big.Int).Rsh(p, 2048-64).Cmp(ones) != 0 {
		t.Fatal("p does not start and end with 64 one bits")
	}
	a, _ := newModpShare(rand.Reader)
	b, _ := newModpShare(rand.Reader)
	ka, err1 := a.shared(b.public())
	kb, err2 := b.shared(a.public())
	if err1 != nil || err2 != nil || !bytes.Equal(ka, kb) || len(ka) != 256 || len(a.public()) != 256 {
		t.Fatalf("keys disagree: %v %v", err1, err2)
	}
	for _, bad := range [][]byte{make([]byte, 256), append(make([]byte, 255), 1), p.Bytes(), make([]byte, 10)} {
		if _, err := a.shared(bad); err != ErrBadKE {
			t.Fatalf("accepted a bad public value: %v", err)
		}
	}
}

// RFC 4231 test cases 1 and 2, through the PRF transforms.
func TestPRFRFC4231(t *testing.T) {
	cases := []struct {
		key, data string
		want      map[PRF]string
	}{
		{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", map[PRF]string{
			PRFHMACSHA256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
			PRFHMACSHA384: "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
			PRFHMACSHA512: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
		}},
		{"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", map[PRF]string{
			PRFHMACSHA256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
			PRFHMACSHA384: "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
			PRFHMACSHA512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
		}},
	}
	for i, c := range cases {
		for p, want := range c.want {
			if got := hex.EncodeToString(prf(p, unhex(t, c.key), unhex(t, c.data))); got != want {
				t.Errorf("case %d %s: %s", i+1, p, got)
			}
		}
	}
}

// The IKEv2 KDF vector that libreswan's CAVS tool prints for NIST's
// sample (HMAC-SHA-1; libreswan programs/cavp): SKEYSEED, prf+ for the IKE
// SA, prf+ for a child SA with and without a new DH value, and the rekey
// SKEYSEED. Our derivation is generic over the hash, so SHA-1 checks the
// construction the SHA-2 PRFs use.
func TestIKEv2KDFCAVS(t *testing.T) {
	gir := unhex(t, "4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52")
	girNew := unhex(t, "863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330")
	ni, nr := unhex(t, "32b50d5f4a3763f3"), unhex(t, "9206a04b26564cb1")
	spis := unhex(t, "34c9e7c188868785"+"3ff77d760d2b2199")
	nonces := append(append([]byte{}, ni...), nr...)

	seed := prfHMAC(sha1.New, nonces, gir)
	check := func(name string, got []byte, want string) {
		t.Helper()
		if hex.EncodeToString(got) != want {
			t.Errorf("%s = %x", name, got)
		}
	}
	check("SKEYSEED", seed, "a9a7b222b59f8f48645f28a1db5b5f5d7479cba7")
	dkm := prfPlus(sha1.New, seed, append(append([]byte{}, nonces...), spis...), 132)
	check("DKM", dkm, "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062768b76606f9fa5e992204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702c979fa280870d2ed41efa9c549fd11198af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435a7a56cc4")
	skd := dkm[:sha1.Size]
	check("DKM(Child SA)", prfPlus(sha1.New, skd, nonces, 132), "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd9560b2d5e092d1f24e2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20754a2d883ba0c2cf285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e664994d234cb4")
	check("DKM(Child SA D-H)", prfPlus(sha1.New, skd, append(append([]byte{}, girNew...), nonces...), 132), "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232eab4b3ab14c400a5197dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8bbb5ffb7857240f9a05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054d56fd74c")
	check("SKEYSEED(Rekey)", prfHMAC(sha1.New, skd, girNew, ni, nr), "63e81194946ebd05df7df5ebf5d8750056bf1f1d")
}

// The derivation helpers split prf+ output in the order RFC 7296 section
// 2.14 and 2.17 give; this pins that order against the raw prf+ stream.
func TestKeySplitOrder(t *testing.T) {
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	seed := skeyseed(PRFHMACSHA256, ni, nr, []byte("g^ir"))
	k := deriveIKEKeys(ikeSuite{Encr: AES256GCM16, PRF: PRFHMACSHA256}, seed, ni, nr, 0x0102030405060708, 0x1112131415161718)
	s := append(append(append([]byte{}, ni...), nr...), unhex(t, "01020304050607081112131415161718")...)
	stream := prfPlus(PRFHMACSHA256.Hash(), seed, s, 32*3+36*2)
	want := [][]byte{stream[:32], stream[32:68], stream[68:104], stream[104:136], stream[136:168]}
	for i, got := range [][]byte{k.d, k.ei, k.er, k.pi, k.pr} {
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("key %d out of order", i)
		}
	}
	if len(k.ai) != 0 || len(k.ar) != 0 {
		t.Fatal("AEAD IKE SA has integrity keys")
	}
	iToR, rToI := childKeys(PRFHMACSHA256, k.d, esp.ChaCha20Poly1305.KeyLen(), nil, ni, nr)
	cs := prfPlus(PRFHMACSHA256.Hash(), k.d, append(append([]byte{}, ni...), nr...), 72)
	if !bytes.Equal(iToR, cs[:36]) || !bytes.Equal(rToI, cs[36:]) {
		t.Fatal("child keys out of order")
	}
}

// With AES-CBC, SK_ai and SK_ar sit between SK_d and SK_ei (RFC 7296
// section 2.14) and take the HMAC's key length (RFC 4868: 48 bytes for
// HMAC-SHA2-384-192); a CBC child's KEYMAT per direction is the
// encryption key then the integrity key (section 2.17).
func TestKeySplitOrderCBC(t *testing.T) {
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	seed := skeyseed(PRFHMACSHA384, ni, nr, []byte("g^ir"))
	k := deriveIKEKeys(ikeSuite{Encr: AES256CBC, Integ: IntegHMACSHA384192, PRF: PRFHMACSHA384}, seed, ni, nr, 1, 2)
	s := append(append(append([]byte{}, ni...), nr...), unhex(t, "00000000000000010000000000000002")...)
	const pl, al, el = 48, 48, 32
	stream := prfPlus(PRFHMACSHA384.Hash(), seed, s, 3*pl+2*al+2*el)
	var want [][]byte
	for _, n := range []int{pl, al, al, el, el, pl, pl} {
		want, stream = append(want, stream[:n]), stream[n:]
	}
	for i, got := range [][]byte{k.d, k.ai, k.ar, k.ei, k.er, k.pi, k.pr} {
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("key %d (SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr) is %x, want %x", i, got, want[i])
		}
	}
	iToR, rToI := childKeys(PRFHMACSHA384, k.d, esp.AES128CBCSHA512.KeyLen(), nil, ni, nr)
	cs := prfPlus(PRFHMACSHA384.Hash(), k.d, append(append([]byte{}, ni...), nr...), 2*(16+64))
	if !bytes.Equal(iToR, cs[:80]) || !bytes.Equal(rToI, cs[80:]) {
		t.Fatal("CBC child keys out of order")
	}
}
