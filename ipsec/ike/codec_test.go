package ike

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// initVector is an IKE_SA_INIT request, annotated field by field.
var initVector = []byte{
	// IKE header (RFC 7296 section 3.1)
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // initiator's SPI
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // responder's SPI: 0 in the first message
	33,         // next payload: SA
	0x20,       // version 2.0
	34,         // exchange: IKE_SA_INIT
	0x08,       // flags: Initiator
	0, 0, 0, 0, // message ID 0
	0, 0, 0, 144, // length: 28 + 40 + 40 + 20 + 16
	// SA payload (section 3.3)
	34, 0x00, 0, 40, // next: KE, not critical, length 40
	0, 0, 0, 36, // proposal: last, reserved, length 36
	1, 1, 0, 3, // proposal 1, protocol IKE, SPI size 0, 3 transforms
	3, 0, 0, 12, 1, 0, 0, 20, // transform: more, length 12, ENCR, ENCR_AES_GCM_16
	0x80, 14, 0x01, 0x00, //   attribute: TV, Key Length = 256
	3, 0, 0, 8, 2, 0, 0, 5, // transform: more, length 8, PRF, PRF_HMAC_SHA2_256
	0, 0, 0, 8, 4, 0, 0, 31, // transform: last, length 8, DH, Curve25519
	// KE payload (section 3.4)
	40, 0x00, 0, 40, // next: Nonce, length 40
	0, 31, 0, 0, // DH group 31, reserved
	0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a, // public value
	0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a,
	// Nonce payload (section 3.9)
	41, 0x00, 0, 20, // next: Notify, length 20
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, // Ni (16 bytes, the minimum)
	// Notify payload (section 3.10)
	0, 0x00, 0, 16, // next: none, length 16
	0, 0, 0x40, 0x06, // protocol 0, SPI size 0, type 16390 COOKIE
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, // cookie data
}

func TestParseAnnotatedVector(t *testing.T) {
	m, err := ParseMessage(initVector)
	if err != nil {
		t.Fatal(err)
	}
	if m.SPIi != 0x0102030405060708 || m.SPIr != 0 || m.Exchange != IKESAInit || m.Flags != FlagInitiator || m.MessageID != 0 {
		t.Fatalf("header %+v", m)
	}
	if got := m.String(); got != "IKE_SA_INIT request 0 [ SA KE N(once) N(COOKIE) ]" {
		t.Fatalf("String %q", got)
	}
	sa, err := ParseSA(m.Payloads[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	want := SA{Proposals: []Proposal{{Num: 1, Protocol: ProtoIKE, SPI: []byte{}, Transforms: []Transform{
		{Type: TransformENCR, ID: EncrAESGCM16, KeyLen: 256},
		{Type: TransformPRF, ID: uint16(PRFHMACSHA256)},
		{Type: TransformDH, ID: uint16(DHCurve25519)},
	}}}}
	if !reflect.DeepEqual(sa, want) {
		t.Fatalf("SA %+v", sa)
	}
	ke, _ := ParseKE(m.Payloads[1].Body)
	n, _ := ParseNotify(m.Payloads[3].Body)
	if ke.Group != DHCurve25519 || len(ke.Data) != 32 || n.Type != NotifyCookie || len(n.Data) != 8 {
		t.Fatalf("KE %v notify %v", ke, n)
	}
	// Encoding the typed payloads gives the same bytes back.
	nonce, _ := ParseNonce(m.Payloads[2].Body)
	out := (&Message{SPIi: m.SPIi, Exchange: IKESAInit, Flags: FlagInitiator, Payloads: []Payload{
		want.Payload(), ke.Payload(), NoncePayload(nonce), n.Payload(),
	}}).Marshal()
	if !bytes.Equal(out, initVector) {
		t.Fatalf("re-encoded:\n%x\nwant\n%x", out, initVector)
	}
}

func TestParseErrors(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), initVector...)) }
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"short header", initVector[:27], ErrTruncated},
		{"version 1", mod(func(b []byte) []byte { b[17] = 0x10; return b }), ErrBadVersion},
		{"length too big", mod(func(b []byte) []byte { b[27]++; return b }), ErrBadLength},
		{"trailing byte", append(append([]byte(nil), initVector...), 0), ErrBadLength},
		{"payload length 3", mod(func(b []byte) []byte { b[31] = 3; return b }), ErrBadLength},
		{"payload past end", mod(func(b []byte) []byte { b[31] = 200; return b }), ErrTruncated},
		{"unknown critical", mod(func(b []byte) []byte { b[16], b[29] = 200, 0x80; return b }), ErrCritical},
		{"SK not last", mod(func(b []byte) []byte { b[16] = 46; return b }), ErrSKNotLast},
	}
	for _, c := range cases {
		_, err := ParseMessage(c.in)
		var pe *ParseError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// An unknown payload without the critical bit is skipped.
	m, err := ParseMessage(mod(func(b []byte) []byte { b[16] = 200; return b }))
	if err != nil || len(m.Payloads) != 3 {
		t.Fatalf("unknown non-critical: %v %v", m, err)
	}
}

func TestPayloadErrors(t *testing.T) {
	sa := initVector[32:68]
	bad := func(off int, v byte) []byte { b := append([]byte(nil), sa...); b[off] = v; return b }
	for name, b := range map[string][]byte{
		"proposal last substruc": bad(0, 1),
		"transform count":        bad(7, 4),
		"transform last":         bad(8, 0),
		"transform length":       bad(11, 200),
		"attribute truncated":    bad(11, 10),
	} {
		if _, err := ParseSA(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, f := range map[string]func() error{
		"TS count 0": func() error { _, err := ParseTS([]byte{0, 0, 0, 0}); return err },
		"TS type": func() error {
			_, err := ParseTS([]byte{1, 0, 0, 0, 9, 0, 0, 16, 0, 0, 0xff, 0xff, 1, 2, 3, 4, 1, 2, 3, 4})
			return err
		},
		"TS length": func() error {
			_, err := ParseTS([]byte{1, 0, 0, 0, 7, 0, 0, 17, 0, 0, 0xff, 0xff, 1, 2, 3, 4, 1, 2, 3, 4})
			return err
		},
		"delete ESP size": func() error { _, err := ParseDelete([]byte{3, 8, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}); return err },
		"delete IKE spis": func() error { _, err := ParseDelete([]byte{1, 0, 0, 1}); return err },
		"nonce short":     func() error { _, err := ParseNonce(make([]byte, 15)); return err },
		"notify SPI":      func() error { _, err := ParseNotify([]byte{3, 4, 0, 1, 0}); return err },
		"ID empty":        func() error { _, err := ParseID([]byte{1, 0, 0, 0}); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPayloadRoundTrips(t *testing.T) {
	tss := []TrafficSelector{
		TSFromPrefix(netip.MustParsePrefix("10.1.0.0/24")),
		{Protocol: 137, StartPort: 0, EndPort: 65535, Start: netip.MustParseAddr("2001:db8::1"), End: netip.MustParseAddr("2001:db8::ffff")},
	}
	got, err := ParseTS(TSPayload(true, tss).Body)
	if err != nil || !reflect.DeepEqual(got, tss) {
		t.Fatalf("TS %v %v", got, err)
	}
	d := Delete{Protocol: ProtoESP, SPIs: []uint32{0x1234, 0xdeadbeef}}
	if got, err := ParseDelete(d.Payload().Body); err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("Delete %v %v", got, err)
	}
	sa := SA{Proposals: []Proposal{
		{Num: 1, Protocol: ProtoESP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{transformOf(AES128GCM16), {Type: TransformESN, ID: 1}, {Type: TransformESN}}},
		{Num: 2, Protocol: ProtoESP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{transformOf(ChaCha20Poly1305), {Type: TransformDH, ID: 19}, {Type: TransformESN}}},
	}}
	if got, err := ParseSA(sa.Payload().Body); err != nil || !reflect.DeepEqual(got, sa) {
		t.Fatalf("SA %+v %v", got, err)
	}
	n := Notify{Protocol: ProtoESP, SPI: []byte{9, 9, 9, 9}, Type: NotifyRekeySA, Data: []byte{}}
	if got, err := ParseNotify(n.Payload().Body); err != nil || !reflect.DeepEqual(got, n) {
		t.Fatalf("Notify %+v %v", got, err)
	}
}

func TestIntersect(t *testing.T) {
	a := TSFromPrefix(netip.MustParsePrefix("10.0.0.0/8"))
	b := TrafficSelector{Protocol: 137, EndPort: 65535, Start: netip.MustParseAddr("10.1.0.0"), End: netip.MustParseAddr("11.0.0.0")}
	x, ok := a.Intersect(b)
	if !ok || x.Protocol != 137 || x.Start != b.Start || x.End != netip.MustParseAddr("10.255.255.255") {
		t.Fatalf("%v %v", x, ok)
	}
	if _, ok := a.Intersect(TSHost(netip.MustParseAddr("2001:db8::1"))); ok {
		t.Fatal("families intersected")
	}
	if _, ok := (TrafficSelector{Protocol: 6, EndPort: 65535, Start: b.Start, End: b.End}).Intersect(b); ok {
		t.Fatal("protocols 6 and 137 intersected")
	}
}

// sealedPair returns the two SK ciphers of one direction.
func sealedPair(t *testing.T, e Encr) (skCipher, skCipher) {
	key := bytes.Repeat([]byte{7}, e.KeyMatLen())
	s := ikeSuite{Encr: e}
	a, err1 := newSKCipher(s, key, nil)
	b, err2 := newSKCipher(s, key, nil)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return a, b
}

func TestEncryptedPayload(t *testing.T) {
	for _, e := range []Encr{AES128GCM16, AES256GCM16, ChaCha20Poly1305} {
		seal, open := sealedPair(t, e)
		m := &Message{SPIi: 1, SPIr: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1, Payloads: []Payload{
			ID{Type: IDFQDN, Data: []byte("pe1.example")}.Payload(true),
			Auth{Method: AuthPSK, Data: bytes.Repeat([]byte{1}, 32)}.Payload(),
		}}
		raw := m.marshalSK(seal)
		// header 28, SK header 4, IV 8, IDi 4+15, AUTH 4+36, pad length 1, ICV 16
		if len(raw) != 28+4+8+19+40+1+16 || raw[16] != byte(PayloadSK) || raw[28] != byte(PayloadIDi) {
			t.Fatalf("%s: layout %x", e, raw[:32])
		}
		got, err := ParseMessage(raw)
		if err != nil || !got.Encrypted() {
			t.Fatalf("%s: %v", e, err)
		}
		if err := got.open(open); err != nil || len(got.Payloads) != 2 || !reflect.DeepEqual(got.Payloads, m.Payloads) {
			t.Fatalf("%s: open %v %v", e, err, got.Payloads)
		}
		for _, i := range []int{5, 30, len(raw) - 1} { // header (AAD), SK header, ICV
			bad := append([]byte(nil), raw...)
			bad[i] ^= 1
			if got, err := ParseMessage(bad); err == nil {
				if err := got.open(open); !errors.Is(err, ErrAuthTag) {
					t.Fatalf("%s: tampered byte %d: %v", e, i, err)
				}
			}
		}
	}
}

func TestPSKRedacted(t *testing.T) {
	k := NewPSK([]byte("super secret value"))
	pc := PeerConfig{Name: "x", PSK: k}
	for _, s := range []string{k.String(), k.GoString(), sprintf("%v %+v %#v %s", pc, pc, pc, k), k.LogValue().String()} {
		if bytes.Contains([]byte(s), []byte("super")) {
			t.Fatalf("PSK leaked: %s", s)
		}
	}
	c := ChildSA{InKey: NewKeyMaterial([]byte("super key in")), OutKey: NewKeyMaterial([]byte("super key out"))}
	for _, s := range []string{sprintf("%v %+v %#v %s", c, c, c, c), sprintf("%v %+v", Event{Child: c}, Event{Child: c})} {
		if bytes.Contains([]byte(s), []byte("super")) {
			t.Fatalf("child keys leaked: %s", s)
		}
	}
	b, _ := k.MarshalText()
	if string(b) != "<redacted>" || string(k.Bytes()) != "super secret value" {
		t.Fatal("MarshalText or Bytes")
	}
}

func TestConfigValidation(t *testing.T) {
	base := peerCfg("pe2", addrA, addrB, true)
	cases := map[string]func(*PeerConfig){
		"peers[pe2].psk":           func(p *PeerConfig) { p.PSK = NewPSK([]byte("short")) },
		"peers[pe2].local-address": func(p *PeerConfig) { p.LocalAddr = netip.Addr{} },
		"peers[pe2].ike[0].encr[0]": func(p *PeerConfig) {
			p.IKE = []IKEProposal{{Encr: []Encr{{ID: 12, KeyLen: 192}}, Integ: []Integ{12}, PRF: []PRF{5}, DH: []DHGroup{31}}}
		},
		"peers[pe2].ike[0].integ": func(p *PeerConfig) {
			p.IKE = []IKEProposal{{Encr: []Encr{AES128CBC}, PRF: []PRF{5}, DH: []DHGroup{31}}}
		},
		"peers[pe2].ike[0].integ[1]": func(p *PeerConfig) {
			p.IKE = []IKEProposal{{Encr: []Encr{AES128CBC}, Integ: []Integ{12, 2}, PRF: []PRF{5}, DH: []DHGroup{31}}}
		},
		"peers[pe2].esp[0].integ": func(p *PeerConfig) {
			p.ESP = []ESPProposal{{Encr: []Encr{AES128GCM16}, Integ: []Integ{IntegHMACSHA256128}}}
		},
		"peers[pe2].esp[1].encr[1]": func(p *PeerConfig) {
			p.ESP = []ESPProposal{{Encr: []Encr{AES128GCM16}}, {Encr: []Encr{AES256CBC, AES256GCM16}, Integ: []Integ{IntegHMACSHA256128}}}
		},
		"peers[pe2].ike[0].dh[0]": func(p *PeerConfig) {
			p.IKE = []IKEProposal{{Encr: []Encr{AES128GCM16}, PRF: []PRF{5}, DH: []DHGroup{2}}}
		},
		"peers[pe2].child-lifetime": func(p *PeerConfig) { p.ChildLifetime = Lifetime{Soft: 2, Hard: 1} },
		"peers[pe2].remote-address": func(p *PeerConfig) { p.RemoteAddr = netip.MustParseAddr("2001:db8::1") },
	}
	for field, f := range cases {
		p := base
		f(&p)
		_, err := NewEngine(Config{Peers: []PeerConfig{p}})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}
