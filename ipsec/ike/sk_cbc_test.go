package ike

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// cbcVector is an INFORMATIONAL request holding one Delete of the IKE SA,
// protected with AES-128-CBC and HMAC-SHA2-256-128 (RFC 7296 section 3.14).
// It was built independently of this package with Python's cryptography
// module (AES-ECB for the IV, AES-CBC, hmac/hashlib for the ICV):
//
//	SK_e = 00 01 .. 0f, SK_a = 20 21 .. 3f
//	IV   = AES-ECB(SK_e, 00*8 || 00 00 00 00 00 00 00 01)
//	ICV  = HMAC-SHA-256(SK_a, header | SK header | IV | ciphertext)[:16]
const cbcVector = "" +
	"0102030405060708 1112131415161718" + // SPIi, SPIr
	"2e 20 25 08 00000001 00000050" + // next SK, v2.0, INFORMATIONAL, I flag, ID 1, length 80
	"2a 00 0034" + // SK header: first inner payload Delete, length 52
	"7346139595c0b41e497bbde365f42d0a" + // IV
	"b7ed2f0463f92eb5b6affe8b583abbc8" + // AES-CBC of 00 00 0008 01 00 0000 (Delete IKE) | 7 zero pad bytes | pad length 7
	"0f2f0218f07b0b3f082e127fac5cdb43" // ICV

func cbcKATCipher(t *testing.T) skCipher {
	t.Helper()
	ek, ak := make([]byte, 16), make([]byte, 32)
	for i := range ek {
		ek[i] = byte(i)
	}
	for i := range ak {
		ak[i] = byte(0x20 + i)
	}
	c, err := newSKCipher(ikeSuite{Encr: AES128CBC, Integ: IntegHMACSHA256128, PRF: PRFHMACSHA256}, ek, ak)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSKPayloadCBCVector(t *testing.T) {
	want := unhex(t, cbcVector)
	m := &Message{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, Exchange: Informational, Flags: FlagInitiator,
		MessageID: 1, Payloads: []Payload{Delete{Protocol: ProtoIKE}.Payload()}}
	if got := m.marshalSK(cbcKATCipher(t)); !bytes.Equal(got, want) {
		t.Fatalf("sealed\n%x\nwant\n%x", got, want)
	}
	got, err := ParseMessage(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.open(cbcKATCipher(t)); err != nil || !reflect.DeepEqual(got.Payloads, m.Payloads) {
		t.Fatalf("open: %v %v", err, got.Payloads)
	}
}

// Every byte the ICV covers, and the ICV itself, is checked before any
// decryption; malformed lengths are refused without a panic.
func TestSKPayloadCBCTamperAndShape(t *testing.T) {
	raw := unhex(t, cbcVector)
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x80
		m, err := ParseMessage(bad)
		if err != nil {
			continue // header fields the parser checks itself
		}
		if err := m.open(cbcKATCipher(t)); !errors.Is(err, ErrAuthTag) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	c := cbcKATCipher(t).(*cbcSK)
	aad := raw[:32]
	for _, tc := range []struct {
		body []byte
		want error
	}{
		{raw[32 : 32+16+16], ErrTruncated},                              // IV and ICV, no ciphertext
		{append(raw[32:64:64], make([]byte, 8+16+16)...), ErrMalformed}, // 1.5 blocks of ciphertext
		{append(raw[32:80:80], raw[64:]...), ErrAuthTag},                // two blocks, old ICV
	} {
		if _, err := c.open(aad, tc.body); !errors.Is(err, tc.want) {
			t.Errorf("body of %d bytes: %v, want %v", len(tc.body), err, tc.want)
		}
	}
}

// Two messages never share an IV, and padding fills the block exactly.
func TestSKPayloadCBCIVAndPadding(t *testing.T) {
	s := ikeSuite{Encr: AES256CBC, Integ: IntegHMACSHA512256, PRF: PRFHMACSHA512}
	seal, open := fuzzSK(t, s), fuzzSK(t, s)
	seen := map[string]bool{}
	for n := range 40 {
		m := &Message{SPIi: 1, SPIr: 2, Exchange: Informational, MessageID: uint32(n), Payloads: []Payload{
			Notify{Type: NotifyType(40000), Data: bytes.Repeat([]byte{0xaa}, n)}.Payload()}}
		raw := m.marshalSK(seal)
		// header 28, SK header 4, IV 16, ICV 32; the rest whole blocks
		ct := len(raw) - 28 - 4 - 16 - 32
		if ct%16 != 0 || ct < 8+n+1 || ct >= 8+n+1+16 {
			t.Fatalf("n=%d: %d ciphertext bytes", n, ct)
		}
		iv := string(raw[32:48])
		if seen[iv] {
			t.Fatalf("IV repeated at message %d", n)
		}
		seen[iv] = true
		got, err := ParseMessage(raw)
		if err != nil || got.open(open) != nil || !reflect.DeepEqual(got.Payloads, m.Payloads) {
			t.Fatalf("n=%d: round trip %v", n, err)
		}
	}
}
