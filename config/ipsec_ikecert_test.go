package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const ikeCertPeer = `
ipsec:
  local-address: 10.0.0.1
  ike-peers:
    - name: pe2
      remote-address: 10.0.0.2
      auth: cert
      certificate: pe1.crt
      private-key: pe1.key
      ca-bundle: ca.crt
      revoked-serials: revoked.txt
      local-id: pe1.example.net
      remote-id: pe2.example.net
`

// certFiles writes a CA, pe1's certificate and key, another key and a
// revoked-serial list into dir. It returns the key file's PEM body, to
// look for in printed output.
func certFiles(t *testing.T, dir string) string {
	t.Helper()
	mk := func(serial int64, cn string, ca bool, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: ca}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := mk(1, "Test CA", true, nil, nil, caKey)
	leaf := mk(2, "pe1.example.net", false, ca, caKey, key)
	write := func(name string, typ string, der []byte, mode os.FileMode) string {
		b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("ca.crt", "CERTIFICATE", ca.Raw, 0o644)
	write("pe1.crt", "CERTIFICATE", leaf.Raw, 0o644)
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	body := write("pe1.key", "PRIVATE KEY", k, 0o600)
	ko, _ := x509.MarshalPKCS8PrivateKey(other)
	write("other.key", "PRIVATE KEY", ko, 0o600)
	if err := os.WriteFile(filepath.Join(dir, "revoked.txt"), []byte("# revoked\n0a\n3c:9e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

func TestIKEPeerCertAuth(t *testing.T) {
	dir := t.TempDir()
	keyBody := certFiles(t, dir)
	cfg, err := loadIn(t, dir, ikeCertPeer)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.IPsec.IKEPeers[0]
	if p.Cert == nil || p.Cert.Chain[0].Subject.CommonName != "pe1.example.net" || len(p.Cert.CAs) != 1 ||
		!p.Cert.Revoked.Has(big.NewInt(10)) || !p.Cert.Revoked.Has(big.NewInt(0x3c9e)) || p.PSK.IsSet() {
		t.Fatalf("peer: %+v", p)
	}
	if id, _ := ParseIKEIdentity(p.RemoteID); id.Value != "pe2.example.net" {
		t.Errorf("remote-id %+v", id)
	}
	// The key never prints: fmt, JSON, and the body's first bytes.
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%v %+v %#v %s %+v %#v", cfg, cfg, cfg, js, *p.Cert, *p.Cert)
	if strings.Contains(printed, keyBody[40:72]) || !strings.Contains(fmt.Sprintf("%+v", *p.Cert), "Key:<redacted>") {
		t.Errorf("private key printed or not redacted: %+v", *p.Cert)
	}
	// A reload of the same files is the same configuration (the
	// daemon compares IKE peers with reflect.DeepEqual).
	again, err := loadIn(t, dir, ikeCertPeer)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.IPsec.IKEPeers, cfg.IPsec.IKEPeers) {
		t.Errorf("two loads of the same certificate peer differ")
	}
}

func TestIKEPeerCertErrors(t *testing.T) {
	r := func(old, new string) string { return strings.Replace(ikeCertPeer, old, new, 1) }
	for _, tc := range []struct {
		name, body, want string
		prep             func(dir string)
	}{
		{"bad auth", r("auth: cert", "auth: rsa"), `ipsec.ike-peers[0].auth: "rsa": want psk or cert`, nil},
		{"no certificate", r("      certificate: pe1.crt\n", ""), "ipsec.ike-peers[0].certificate: required with auth: cert", nil},
		{"no ca-bundle", r("      ca-bundle: ca.crt\n", ""), "ipsec.ike-peers[0].ca-bundle: required with auth: cert", nil},
		{"no private-key", r("      private-key: pe1.key\n", ""), "ipsec.ike-peers[0].private-key: required with auth: cert", nil},
		{"psk-file too", ikeCertPeer + "      psk-file: pe2.psk\n", `ipsec.ike-peers[0].psk-file: "pe2.psk": not used with auth: cert`, nil},
		{"certificate with psk", r("auth: cert", "auth: psk\n      psk-file: pe2.psk"), `ipsec.ike-peers[0].certificate: "pe1.crt": only used with auth: cert`, nil},
		{"readable key", ikeCertPeer, `ipsec.ike-peers[0].private-key: "pe1.key": mode 0644 lets others read it; chmod 600`, func(dir string) {
			os.Chmod(filepath.Join(dir, "pe1.key"), 0o644)
		}},
		{"symlinked key", ikeCertPeer, `ipsec.ike-peers[0].private-key: "pe1.key": is a symbolic link`, func(dir string) {
			os.Rename(filepath.Join(dir, "pe1.key"), filepath.Join(dir, "real.key"))
			os.Symlink("real.key", filepath.Join(dir, "pe1.key"))
		}},
		{"writable CA bundle", ikeCertPeer, `ipsec.ike-peers[0].ca-bundle: "ca.crt": mode 0666 lets others write it`, func(dir string) {
			os.Chmod(filepath.Join(dir, "ca.crt"), 0o666)
		}},
		{"key of another certificate", r("private-key: pe1.key", "private-key: other.key"), `ipsec.ike-peers[0].private-key: "other.key": does not match the certificate "CN=pe1.example.net"`, nil},
		{"CA bundle not PEM", ikeCertPeer, `ipsec.ike-peers[0].ca-bundle: "ca.crt": no PEM CERTIFICATE block`, func(dir string) {
			os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("hello\n"), 0o644)
		}},
		{"certificate is the key", r("certificate: pe1.crt", "certificate: pe1.key"), `ipsec.ike-peers[0].certificate: "pe1.key": PEM block "PRIVATE KEY" where CERTIFICATE was expected`, nil},
		{"revoked list bad line", ikeCertPeer, `ipsec.ike-peers[0].revoked-serials: "revoked.txt": line 2: "xyz"`, func(dir string) {
			os.WriteFile(filepath.Join(dir, "revoked.txt"), []byte("01\nxyz\n"), 0o644)
		}},
		{"certificate does not name the local address", r("      local-id: pe1.example.net\n", ""), `ipsec.ike-peers[0].local-address: 10.0.0.1: is not named by the certificate "CN=pe1.example.net" (pe1.crt)`, nil},
		{"certificate does not name local-id", r("local-id: pe1.example.net", "local-id: pe9.example.net"), `ipsec.ike-peers[0].local-id: "pe9.example.net": is not named by the certificate`, nil},
		{"bad e-mail id", r("remote-id: pe2.example.net", "remote-id: \"@example.net\""), `ipsec.ike-peers[0].remote-id: "@example.net": want an IP address, a DNS name or user@dns.name`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keyBody := certFiles(t, dir)
			writePSK(t, dir, testPSK, 0o600)
			if tc.prep != nil {
				tc.prep(dir)
			}
			_, err := loadIn(t, dir, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), keyBody[40:72]) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}

func TestParseIKEIdentityEmail(t *testing.T) {
	id, err := ParseIKEIdentity("pe1@example.net")
	if err != nil || id.Type != 3 || id.Value != "pe1@example.net" {
		t.Fatalf("%+v %v", id, err)
	}
}
