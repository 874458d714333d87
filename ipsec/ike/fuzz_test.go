package ike

import (
	"bytes"
	"crypto/x509"
	"net/netip"
	"reflect"
	"testing"
)

// FuzzParseMessage feeds arbitrary datagrams to the message parser and to
// every payload parser. Nothing may panic, and a message that parses in
// the clear must re-encode to one that parses to the same payloads.
// Seeds: testdata/fuzz/FuzzParseMessage (annotated vector, IKE_AUTH
// encrypted with AES-GCM and with AES-CBC + HMAC-SHA2, CREATE_CHILD_SA and
// INFORMATIONAL messages) plus those below. Encrypted messages are opened
// with the fixed keys of fuzzSuites, so the fuzzer reaches the inner
// payload parsers through both kinds of SK payload.
func FuzzParseMessage(f *testing.F) {
	f.Add(initVector)
	for _, s := range fuzzSuites {
		f.Add((&Message{SPIi: 1, SPIr: 2, Exchange: Informational, Payloads: []Payload{Delete{Protocol: ProtoESP, SPIs: []uint32{300}}.Payload()}}).marshalSK(fuzzSK(f, s)))
	}
	var opens []skCipher
	for _, s := range fuzzSuites {
		opens = append(opens, fuzzSK(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			return
		}
		if m.Encrypted() {
			for _, c := range opens {
				if m.open(c) == nil {
					break
				}
			}
			if !m.opened {
				return
			}
		}
		for _, p := range m.Payloads {
			parseTyped(p)
		}
		if m.opened {
			return
		}
		again, err := ParseMessage(m.Marshal())
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if !reflect.DeepEqual(again.Payloads, m.Payloads) && !(len(again.Payloads) == 0 && len(m.Payloads) == 0) {
			t.Fatalf("payloads changed:\n%v\n%v", m.Payloads, again.Payloads)
		}
	})
}

// fuzzSuites are the SK payload kinds the codec fuzzers and seeds use.
var fuzzSuites = []ikeSuite{
	{Encr: AES128GCM16, PRF: PRFHMACSHA256},
	{Encr: AES256CBC, Integ: IntegHMACSHA384192, PRF: PRFHMACSHA384},
}

// fuzzSK is an SK cipher for s with fixed keys (bytes of 7, then 9).
func fuzzSK(t testing.TB, s ikeSuite) skCipher {
	c, err := newSKCipher(s, bytes.Repeat([]byte{7}, s.Encr.KeyMatLen()), bytes.Repeat([]byte{9}, s.Integ.KeyLen()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// parseTyped runs the typed parser of p's type; for the ones that succeed
// it re-encodes and checks the result parses the same.
func parseTyped(p Payload) {
	switch p.Type {
	case PayloadSA:
		if sa, err := ParseSA(p.Body); err == nil {
			if sa2, err := ParseSA(sa.Payload().Body); err != nil || len(sa2.Proposals) != len(sa.Proposals) {
				panic("SA round trip")
			}
		}
	case PayloadKE:
		_, _ = ParseKE(p.Body)
	case PayloadIDi, PayloadIDr:
		_, _ = ParseID(p.Body)
	case PayloadAUTH:
		if a, err := ParseAuth(p.Body); err == nil && a.Method == AuthDigitalSignature {
			fuzzCertBodies(a.Data)
		}
	case PayloadCERT, PayloadCERTREQ:
		fuzzCertBodies(p.Body)
	case PayloadNonce:
		_, _ = ParseNonce(p.Body)
	case PayloadNotify:
		if n, err := ParseNotify(p.Body); err == nil && n.Type == NotifySignatureHashAlgorithms {
			fuzzCertBodies(n.Data)
		}
	case PayloadDelete:
		if d, err := ParseDelete(p.Body); err == nil {
			if d2, err := ParseDelete(d.Payload().Body); err != nil || !reflect.DeepEqual(d, d2) {
				panic("Delete round trip")
			}
		}
	case PayloadCP:
		if cp, err := ParseCP(p.Body); err == nil {
			if cp2, err := ParseCP(cp.Payload().Body); err != nil || len(cp2.Attrs) != len(cp.Attrs) {
				panic("CP round trip")
			}
		}
	case PayloadTSi, PayloadTSr:
		if ts, err := ParseTS(p.Body); err == nil {
			if ts2, err := ParseTS(TSPayload(true, ts).Body); err != nil || !reflect.DeepEqual(ts, ts2) {
				panic("TS round trip")
			}
		}
	}
}

// FuzzResponderHandle feeds arbitrary datagrams to a responder engine, on
// both ports: everything an unauthenticated sender can reach (IKE_SA_INIT
// processing, cookies, SA lookup) must survive any input.
func FuzzResponderHandle(f *testing.F) {
	f.Add(initVector, false)
	ini, _ := NewEngine(Config{Peers: []PeerConfig{peerCfg("b", addrA, addrB, true)}})
	ini.Start()
	for _, d := range ini.Output() {
		f.Add(d.Data, false)
		f.Add(append(make([]byte, 4), d.Data...), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, natt bool) {
		e, err := NewEngine(Config{Peers: []PeerConfig{peerCfg("a", addrB, addrA, false)}, CookieThreshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(500)
		if natt {
			port = 4500
		}
		local, remote := netip.AddrPortFrom(addrB, port), netip.AddrPortFrom(addrA, port)
		e.Handle(local, remote, data)
		e.Handle(local, remote, data) // again: the retransmission path
		for _, d := range e.Output() {
			if d.Remote != remote {
				t.Fatalf("answered %v, not the sender", d.Remote)
			}
		}
		e.Tick()
	})
}

// FuzzCertPayloads feeds one body to the certificate payload parsers
// (CERT, CERTREQ, RFC 7427 signature AUTH data, SIGNATURE_HASH_ALGORITHMS
// data): nothing may panic and what parses re-encodes to the same value.
// Seeds: testdata/fuzz/FuzzCertPayloads (TestWriteCertFuzzCorpus).
func FuzzCertPayloads(f *testing.F) {
	f.Add([]byte{4})
	f.Fuzz(func(t *testing.T, b []byte) { fuzzCertBodies(b) })
}

// fuzzCertBodies runs every certificate payload parser on b and checks
// the round trips; it panics on a mismatch.
func fuzzCertBodies(b []byte) {
	if c, err := ParseCert(b); err == nil {
		if c2, err := ParseCert(c.Payload().Body); err != nil || !reflect.DeepEqual(c, c2) {
			panic("CERT round trip")
		}
		if c.Encoding == CertX509Signature {
			_, _ = x509.ParseCertificate(c.Data)
		}
	}
	if r, err := ParseCertReq(b); err == nil {
		if r2, err := ParseCertReq(r.Payload().Body); err != nil || !reflect.DeepEqual(r, r2) {
			panic("CERTREQ round trip")
		}
		n := 0
		for _, a := range r.Authorities() {
			n += len(a)
		}
		if r.Encoding == CertX509Signature && n != len(r.Data) {
			panic("CERTREQ authorities do not cover the data")
		}
	}
	if s, err := ParseSignatureAuth(b); err == nil && s.Alg != SigUnknown {
		if s2, err := ParseSignatureAuth(s.Auth().Data); err != nil || !reflect.DeepEqual(s, s2) {
			panic("signature AUTH round trip")
		}
	}
	if h, err := ParseHashAlgorithms(b); err == nil && len(h) != len(b)/2 {
		panic("SIGNATURE_HASH_ALGORITHMS count")
	}
}
