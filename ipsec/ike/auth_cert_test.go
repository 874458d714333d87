package ike

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// testCA is a certificate authority made with crypto/x509 for the tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var pairEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // newPair's clock

func newTestCA(t testing.TB, name string) testCA {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"Peregrine test"}},
		NotBefore: pairEpoch.AddDate(-1, 0, 0), NotAfter: pairEpoch.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{c, k}
}

// leafOpts shapes a test leaf certificate.
type leafOpts struct {
	rsa      bool
	serial   int64
	dns      []string
	ips      []net.IP
	email    []string
	notAfter time.Time // zero: a year after the pair's epoch
}

// rsaKeyOnce: a 2048-bit RSA key takes a while to make; the tests share one.
var rsaKeyOnce = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func (ca testCA) leaf(t testing.TB, cn string, o leafOpts) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	var k crypto.Signer
	if o.rsa {
		k = rsaKeyOnce()
	} else {
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k = ek
	}
	if o.serial == 0 {
		o.serial = 100
	}
	if o.notAfter.IsZero() {
		o.notAfter = pairEpoch.AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(o.serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Peregrine test"}},
		NotBefore: pairEpoch.AddDate(-1, 0, 0), NotAfter: o.notAfter,
		DNSNames: o.dns, IPAddresses: o.ips, EmailAddresses: o.email,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, k.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func certAuth(leaf *x509.Certificate, k crypto.Signer, cas ...testCA) *CertAuth {
	a := &CertAuth{Chain: []*x509.Certificate{leaf}, Key: ikeparam.NewPrivateKey(k), Revoked: ikeparam.RevokedSerials{}}
	for _, ca := range cas {
		a.CAs = append(a.CAs, ca.cert)
	}
	return a
}

// certPeers configures a (initiator, at addrA) and b with certificates:
// each trusts ca; b expects a to be named by its address.
func certPeers(t *testing.T, ca testCA, aLeaf leafOpts, bLeaf leafOpts) (PeerConfig, PeerConfig) {
	a := peerCfg("b", addrA, addrB, true)
	b := peerCfg("a", addrB, addrA, false)
	a.PSK, b.PSK = PSK{}, PSK{}
	la, ka := ca.leaf(t, "pe-a", aLeaf)
	lb, kb := ca.leaf(t, "pe-b", bLeaf)
	a.Cert, b.Cert = certAuth(la, ka, ca), certAuth(lb, kb, ca)
	return a, b
}

var (
	ipA = net.IP(addrA.AsSlice())
	ipB = net.IP(addrB.AsSlice())
)

// Two engines authenticate each other by certificate, RSA one way and
// ECDSA the other, and the first child SA comes up on both.
func TestCertAuthPair(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	for _, tc := range []struct {
		name       string
		aRSA, bRSA bool
	}{{"ecdsa both", false, false}, {"rsa initiator", true, false}, {"rsa responder", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := certPeers(t, ca, leafOpts{rsa: tc.aRSA, ips: []net.IP{ipA}}, leafOpts{rsa: tc.bRSA, ips: []net.IP{ipB}})
			p := newPair(t, a, b, nil)
			p.a.Start()
			p.run()
			ka, kb := kinds(p.evA), kinds(p.evB)
			if ka[IKEUp] != 1 || kb[IKEUp] != 1 || ka[ChildUp] != 1 || kb[ChildUp] != 1 || ka[AuthFailed]+kb[AuthFailed] != 0 {
				t.Fatalf("not up by certificate: initiator %v, responder %v", ka, kb)
			}
		})
	}
}

// The peer's identity (an FQDN or e-mail ID) is matched against the
// certificate's DNS or e-mail SANs.
func TestCertAuthNamedIdentities(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	a, b := certPeers(t, ca, leafOpts{email: []string{"pe-a@example.net"}}, leafOpts{dns: []string{"pe-b.example.net"}})
	a.LocalID, b.RemoteID = RFC822Identity("pe-a@example.net"), RFC822Identity("pe-a@example.net")
	b.LocalID, a.RemoteID = FQDNIdentity("pe-b.example.net"), FQDNIdentity("pe-b.example.net")
	p := newPair(t, a, b, nil)
	p.a.Start()
	p.run()
	if ka, kb := kinds(p.evA), kinds(p.evB); ka[ChildUp] != 1 || kb[ChildUp] != 1 {
		t.Fatalf("not up: initiator %v, responder %v", ka, kb)
	}
}

// Each refusal: the side that checks answers or reports
// AUTHENTICATION_FAILED, both ends report AuthFailed, no child comes up,
// and the checking side logs exactly one line naming the reason.
func TestCertAuthRefusals(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	other := newTestCA(t, "Other CA")
	good := leafOpts{ips: []net.IP{ipA}}
	goodB := leafOpts{ips: []net.IP{ipB}}
	for _, tc := range []struct {
		name      string
		setup     func(a, b *PeerConfig)
		responder bool // the responder refuses (else the initiator does)
		reason    string
	}{
		{"expired initiator", func(a, b *PeerConfig) {
			l, k := ca.leaf(t, "pe-a", leafOpts{ips: []net.IP{ipA}, notAfter: pairEpoch.Add(-time.Hour)})
			a.Cert.Chain, a.Cert.Key = []*x509.Certificate{l}, ikeparam.NewPrivateKey(k)
		}, true, "certificate expired"},
		{"initiator from another CA", func(a, b *PeerConfig) {
			l, k := other.leaf(t, "pe-a", good)
			a.Cert.Chain, a.Cert.Key = []*x509.Certificate{l}, ikeparam.NewPrivateKey(k)
		}, true, "unknown CA"},
		{"revoked initiator", func(a, b *PeerConfig) {
			b.Cert.Revoked = ikeparam.RevokedSerials{"64": {}} // serial 100
		}, true, "revoked serial 64"},
		{"initiator's certificate names another address", func(a, b *PeerConfig) {
			l, k := ca.leaf(t, "pe-a", leafOpts{ips: []net.IP{ipB}})
			a.Cert.Chain, a.Cert.Key = []*x509.Certificate{l}, ikeparam.NewPrivateKey(k)
		}, true, "identity mismatch"},
		{"initiator signs with a key not its certificate's", func(a, b *PeerConfig) {
			_, k := ca.leaf(t, "pe-a", good)
			a.Cert.Key = ikeparam.NewPrivateKey(k)
		}, true, "does not verify"},
		{"expired responder", func(a, b *PeerConfig) {
			l, k := ca.leaf(t, "pe-b", leafOpts{ips: []net.IP{ipB}, notAfter: pairEpoch.Add(-time.Hour)})
			b.Cert.Chain, b.Cert.Key = []*x509.Certificate{l}, ikeparam.NewPrivateKey(k)
		}, false, "certificate expired"},
		{"responder from another CA", func(a, b *PeerConfig) {
			l, k := other.leaf(t, "pe-b", goodB)
			b.Cert.Chain, b.Cert.Key = []*x509.Certificate{l}, ikeparam.NewPrivateKey(k)
		}, false, "unknown CA"},
		{"revoked responder", func(a, b *PeerConfig) {
			a.Cert.Revoked = ikeparam.RevokedSerials{"64": {}}
		}, false, "revoked serial 64"},
		{"responder's certificate names another address", func(a, b *PeerConfig) {
			l, k := ca.leaf(t, "pe-b", good)
			b.Cert.Chain, b.Cert.Key = []*x509.Certificate{l}, ikeparam.NewPrivateKey(k)
		}, false, "identity mismatch"},
		{"PSK initiator against a certificate responder", func(a, b *PeerConfig) {
			a.Cert, a.PSK = nil, testPSK()
		}, true, "no X.509 certificate"},
		{"certificate initiator against a PSK responder", func(a, b *PeerConfig) {
			b.Cert, b.PSK = nil, testPSK()
		}, true, "initiator uses AUTH method 14; this peer is configured for a pre-shared key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := certPeers(t, ca, good, goodB)
			tc.setup(&a, &b)
			var logA, logB bytes.Buffer
			p := newPair(t, a, b, nil)
			p.a.log, p.b.log = slogTo(&logA), slogTo(&logB)
			p.a.Start()
			p.run()
			ka, kb := kinds(p.evA), kinds(p.evB)
			if ka[AuthFailed] != 1 || kb[AuthFailed] != 1 || ka[ChildUp] != 0 || kb[ChildUp]-kb[ChildDown] != 0 || len(p.a.SAs())+len(p.b.SAs()) != 0 {
				t.Fatalf("not refused on both ends: initiator %v, responder %v", ka, kb)
			}
			checker, refused := &logA, &logB
			if tc.responder {
				checker, refused = &logB, &logA
			}
			lines := linesWith(checker.String(), "IKE authentication failed")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.reason) {
				t.Fatalf("want one failure line naming %q, got %q", tc.reason, lines)
			}
			if l := linesWith(refused.String(), "IKE authentication failed"); len(l) != 1 || !strings.Contains(l[0], "AUTHENTICATION_FAILED") {
				t.Fatalf("refused side did not log the peer's AUTHENTICATION_FAILED: %q", l)
			}
		})
	}
}

func linesWith(log, s string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// The signature AlgorithmIdentifier constants are the DER encodings
// crypto/x509 itself writes into certificates signed that way: an
// independent check of the bytes copied from RFC 7427 appendix A.
func TestSigAlgIDsMatchX509(t *testing.T) {
	ca := newTestCA(t, "Test CA") // ECDSA P-256: signs ecdsa-with-SHA256
	rsaCA := testCA{key: rsaKeyOnce()}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: pairEpoch, NotAfter: pairEpoch.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rsaCA.key.Public(), rsaCA.key)
	if err != nil {
		t.Fatal(err)
	}
	rsaCA.cert, _ = x509.ParseCertificate(der)
	for alg, c := range map[SigAlg]*x509.Certificate{SigECDSASHA256: ca.cert, SigRSASHA256: rsaCA.cert} {
		// The outer signatureAlgorithm sits between tbsCertificate and
		// the signature: the certificate ends with it then the BIT STRING.
		id := sigAlgIDs[alg]
		if !bytes.Contains(c.Raw[len(c.RawTBSCertificate):], id) {
			t.Errorf("%s: %x not in the certificate's signatureAlgorithm", alg, id)
		}
	}
}

// TestWriteCertFuzzCorpus regenerates testdata/fuzz/FuzzCertPayloads and
// the certificate seeds of FuzzParseMessage when IKE_WRITE_CORPUS=1;
// otherwise it checks the committed seeds still parse.
func TestWriteCertFuzzCorpus(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	leaf, k := ca.leaf(t, "pe-a", leafOpts{ips: []net.IP{ipA}})
	sig, err := signAuth(k, rand.Reader, []byte("signed octets"))
	if err != nil {
		t.Fatal(err)
	}
	rsaSig, err := signAuth(rsaKeyOnce(), rand.Reader, []byte("signed octets"))
	if err != nil {
		t.Fatal(err)
	}
	cert := Cert{Encoding: CertX509Signature, Data: leaf.Raw}.Payload()
	req := certReqFor([]*x509.Certificate{ca.cert, leaf}).Payload()
	bodies := map[string][]byte{
		"cert_x509":         cert.Body,
		"certreq_two_cas":   req.Body,
		"certreq_empty":     {4},
		"certreq_ragged":    append([]byte{4}, make([]byte, 21)...),
		"auth_ecdsa_sha256": sig.Auth().Data,
		"auth_rsa_sha256":   rsaSig.Auth().Data,
		"auth_unknown_alg":  append([]byte{3, 0x30, 0x01, 0x00}, 1, 2, 3),
		"hash_algorithms":   {0, 2, 0, 3, 0, 4},
	}
	msg := (&Message{SPIi: 1, SPIr: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1, Payloads: []Payload{
		ID{Type: IDIPv4, Data: []byte{192, 0, 2, 1}}.Payload(true), cert, req, sig.Auth().Payload(),
	}}).marshalSK(fuzzSK(t, fuzzSuites[0]))
	init := (&Message{SPIi: 1, SPIr: 2, Exchange: IKESAInit, Flags: FlagResponse, Payloads: []Payload{
		req, hashAlgorithmsNotify(),
	}}).Marshal()
	write := func(dir, name string, b []byte) {
		if os.Getenv("IKE_WRITE_CORPUS") != "1" {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range bodies {
		fuzzCertBodies(b)
		write(filepath.Join("testdata", "fuzz", "FuzzCertPayloads"), name, b)
	}
	for name, b := range map[string][]byte{"ike_auth_cert": msg, "ike_sa_init_certreq": init} {
		if _, err := ParseMessage(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		write(filepath.Join("testdata", "fuzz", "FuzzParseMessage"), name, b)
	}
	if _, err := ParseCertReq(bodies["certreq_ragged"]); err == nil {
		t.Error("a CERTREQ of 21 authority bytes parsed")
	}
	if s, err := ParseSignatureAuth(bodies["auth_unknown_alg"]); err != nil || s.Alg != SigUnknown {
		t.Errorf("unknown AlgorithmIdentifier: %+v %v", s, err)
	}
}

// A peer that calls itself by its certificate's subject (strongSwan's
// default ID_DER_ASN1_DN) is refused as any wrong identity is; the log
// line names the DN it sent. Garbage in a DN ID prints as its type.
func TestIDStringNamesDN(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	got := idString(ID{Type: idDERASN1DN, Data: ca.cert.RawSubject})
	if !strings.Contains(got, `"CN=Test CA,O=Peregrine test"`) {
		t.Errorf("idString(DN) = %s", got)
	}
	if got := idString(ID{Type: idDERASN1DN, Data: []byte{0x30, 0x05, 1}}); got != "ID type 9 (3 bytes)" {
		t.Errorf("idString(bad DN) = %s", got)
	}
}
