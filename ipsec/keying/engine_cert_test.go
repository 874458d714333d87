package keying

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// A certificate peer from the configuration reaches the engine with its
// CertAuth and no PSK, and the engine accepts it.
func TestEngineConfigCertPeer(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pe1"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	a := &ikeparam.CertAuth{Chain: []*x509.Certificate{c}, Key: ikeparam.NewPrivateKey(k), CAs: []*x509.Certificate{c}}
	var cfg config.Config
	cfg.IPsec.LocalAddress = netip.MustParseAddr("10.0.0.1")
	cfg.IPsec.IKEPeers = []config.IKEPeer{{
		Name: "pe2", LocalAddress: cfg.IPsec.LocalAddress, RemoteAddress: netip.MustParseAddr("10.0.0.2"),
		Auth: config.AuthCert, Cert: a, RemoteID: "pe2.example.net",
	}}
	ec := EngineConfig(&cfg, nil)
	if ec.Peers[0].Cert != a || len(ec.Peers[0].PSK.Bytes()) != 0 {
		t.Fatalf("peer: %+v", ec.Peers[0])
	}
	if _, err := ike.NewEngine(ec); err != nil {
		t.Fatalf("engine refuses the certificate peer: %v", err)
	}
}
