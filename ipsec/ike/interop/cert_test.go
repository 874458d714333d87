package interop

// Certificate authentication against strongSwan, in the topology of
// strongswan_test.go. strongSwan's own `pki` makes every certificate: a
// CA, Peregrine's RSA certificate (pe.example.net) and strongSwan's ECDSA
// P-256 one (sw.example.net), plus the bad ones: expired, from another
// CA, with a revoked serial. Both ends use RFC 7427 signatures over
// SHA-256 (SIGNATURE_HASH_ALGORITHMS); each end sends a CERTREQ for its
// CA and its certificate in CERT.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// pkiDir holds the certificates and keys pki made.
type pkiDir struct {
	t   *testing.T
	dir string
}

// pkiRun runs strongSwan's pki and writes its output to file in d.
func (d pkiDir) run(file string, args ...string) {
	d.t.Helper()
	out, err := exec.Command("pki", args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		d.t.Fatalf("pki %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := os.WriteFile(d.path(file), out, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

func (d pkiDir) path(f string) string { return filepath.Join(d.dir, f) }

func (d pkiDir) read(f string) []byte {
	b, err := os.ReadFile(d.path(f))
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

// ca makes a self-signed ECDSA CA named cn.
func (d pkiDir) ca(name, cn string) {
	d.run(name+".key", "--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")
	d.run(name+".crt", "--self", "--ca", "--lifetime", "3650", "--in", d.path(name+".key"), "--type", "ecdsa",
		"--dn", "C=CH, O=Peregrine, CN="+cn, "--outform", "pem")
}

// leaf makes a key of keyType and a certificate for it named san, issued
// by ca, with extra pki --issue arguments (serial, validity).
func (d pkiDir) leaf(name, keyType, san, ca string, extra ...string) {
	size := "256"
	if keyType == "rsa" {
		size = "2048"
	}
	d.run(name+".key", "--gen", "--type", keyType, "--size", size, "--outform", "pem")
	d.run(name+".pub", "--pub", "--in", d.path(name+".key"), "--type", keyType, "--outform", "pem")
	args := append([]string{"--issue", "--in", d.path(name + ".pub"), "--type", "pub", "--cacert", d.path(ca + ".crt"), "--cakey", d.path(ca + ".key"),
		"--dn", "C=CH, O=Peregrine, CN=" + san, "--san", san, "--outform", "pem"}, extra...)
	d.run(name+".crt", args...)
}

func makeCerts(t *testing.T) pkiDir {
	t.Helper()
	if _, err := exec.LookPath("pki"); err != nil {
		t.Skip("certificate interop needs strongSwan's pki (apt-get install strongswan-pki)")
	}
	d := pkiDir{t, t.TempDir()}
	d.ca("ca", "Peregrine Test CA")
	d.ca("otherca", "Someone Else's CA")
	d.leaf("pe", "rsa", "pe.example.net", "ca", "--serial", "10")
	d.leaf("sw", "ecdsa", "sw.example.net", "ca", "--serial", "20")
	d.leaf("sw-expired", "ecdsa", "sw.example.net", "ca", "--serial", "21",
		"--not-before", "01.01.20 00:00:00", "--not-after", "01.01.21 00:00:00")
	d.leaf("sw-otherca", "ecdsa", "sw.example.net", "otherca", "--serial", "22")
	d.leaf("sw-revoked", "ecdsa", "sw.example.net", "ca", "--serial", "0b")
	d.leaf("sw-intruder", "ecdsa", "intruder.example.net", "ca", "--serial", "23")
	d.leaf("pe-otherca", "ecdsa", "pe.example.net", "otherca", "--serial", "24")
	return d
}

// peregrineCert is the Peregrine end: certificate name (pe or
// pe-otherca) and revoked serials.
func peregrineCert(t *testing.T, pe *netns.Node, d pkiDir, cert string, revoked string, initiate bool) (*echoer, chan ike.Event) {
	t.Helper()
	r, err := ikeparam.ParseRevokedSerials([]byte(revoked))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ikeparam.NewCertAuth(d.read(cert+".crt"), d.read(cert+".key"), d.read("ca.crt"), r)
	if err != nil {
		t.Fatal(err)
	}
	_, ech, events := peregrineWith(t, pe, "", initiate, 0,
		ike.IKEProposal{Encr: []ike.Encr{ike.AES256GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHCurve25519}},
		ike.ESPProposal{Encr: []ike.Encr{ike.AES256GCM16}, DH: []ike.DHGroup{ike.DHCurve25519}},
		func(p *ike.PeerConfig) {
			p.Cert = a
			p.LocalID, p.RemoteID = ike.FQDNIdentity("pe.example.net"), ike.FQDNIdentity("sw.example.net")
		})
	return ech, events
}

// loadCert configures strongSwan with certificate name (sw, sw-expired,
// ...) and identity id, trusting ca.crt, with SWANCTL_DIR holding the
// credentials (x509/, x509ca/, private/).
func (s *swan) loadCert(t *testing.T, d pkiDir, cert, id string) {
	t.Helper()
	cred := filepath.Join(s.dir, "swanctl")
	for _, sub := range []string{"x509", "x509ca", "private"} {
		_ = os.RemoveAll(filepath.Join(cred, sub))
		if err := os.MkdirAll(filepath.Join(cred, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(cred, "x509", "sw.crt"), string(d.read(cert+".crt")))
	writeFile(t, filepath.Join(cred, "x509ca", "ca.crt"), string(d.read("ca.crt")))
	writeFile(t, filepath.Join(cred, "private", "sw.key"), string(d.read(cert+".key")))
	conf := `connections {
  pe {
    version = 2
    local_addrs = ` + swAddr.String() + `
    remote_addrs = ` + peAddr.String() + `
    proposals = aes256gcm16-prfsha256-x25519
    local {
      auth = pubkey
      certs = sw.crt
      id = ` + id + `
    }
    remote {
      auth = pubkey
      id = pe.example.net
      cacerts = ca.crt
    }
    children {
      net {
        local_ts = 10.1.0.0/24
        remote_ts = 10.2.0.0/24
        esp_proposals = aes256gcm16-x25519
        start_action = none
      }
    }
  }
}
`
	p := filepath.Join(cred, "swanctl.conf")
	writeFile(t, p, conf)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := s.node.Exec(ctx, "env", "SWANCTL_DIR="+cred, "/usr/sbin/swanctl", "--load-all", "--clear", "--noprompt", "--file", p, "--uri", s.uri)
	if err != nil {
		t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
}

// checkSwanAuthenticated asserts charon authenticated Peregrine by its
// RSA certificate with an RFC 7427 signature.
func checkSwanAuthenticated(t *testing.T, s *swan) {
	t.Helper()
	l := s.log()
	if !strings.Contains(l, "authentication of 'pe.example.net' with RSA_EMSA_PKCS1_SHA2_256 successful") {
		t.Errorf("charon did not log Peregrine's RSA signature authentication:\n%s", grepLines(l, "authentication of"))
	}
	t.Logf("charon:\n%s", grepLines(l, "authentication of", "CERT", "CERTREQ"))
}

func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// Peregrine initiates and authenticates by its RSA certificate;
// strongSwan answers with its ECDSA one; traffic flows.
func TestCertPeregrineInitiatesToStrongSwan(t *testing.T) {
	d := makeCerts(t)
	_, s, pe := setup(t)
	s.loadCert(t, d, "sw", "sw.example.net")
	ech, events := peregrineCert(t, pe, d, "pe", "", true)
	ev := wait(t, events, ike.ChildUp)
	checkSAs(t, s, ev.Child)
	checkSwanAuthenticated(t, s)
	pingThrough(t, s, ech)
}

// strongSwan initiates by certificate; Peregrine answers with its own.
func TestCertStrongSwanInitiatesToPeregrine(t *testing.T) {
	d := makeCerts(t)
	_, s, pe := setup(t)
	s.loadCert(t, d, "sw", "sw.example.net")
	ech, events := peregrineCert(t, pe, d, "pe", "", false)
	if out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s\n%s", err, out, s.log())
	}
	ev := wait(t, events, ike.ChildUp)
	checkSAs(t, s, ev.Child)
	checkSwanAuthenticated(t, s)
	pingThrough(t, s, ech)
}

// Peregrine, as responder, refuses strongSwan's expired certificate, a
// certificate from another CA, a revoked serial and a wrong identity:
// strongSwan receives AUTHENTICATION_FAILED, and Peregrine logs exactly
// one line naming the reason.
func TestCertRefusedByPeregrine(t *testing.T) {
	d := makeCerts(t)
	_, s, pe := setup(t)
	for _, tc := range []struct {
		name, cert, id, revoked, reason string
	}{
		{"expired", "sw-expired", "sw.example.net", "", "certificate expired"},
		{"other CA", "sw-otherca", "sw.example.net", "", "certificate from an unknown CA"},
		{"revoked serial", "sw-revoked", "sw.example.net", "# revoked\n0b\n", "revoked serial 0b"},
		{"wrong identity", "sw-intruder", "intruder.example.net", "", `initiator identified as \"intruder.example.net\"`},
		{"certificate of another identity", "sw-intruder", "sw.example.net", "", "identity mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &logRecorder{}
			peregrineLog = rec
			t.Cleanup(func() { peregrineLog = nil })
			s.loadCert(t, d, tc.cert, tc.id)
			_, events := peregrineCert(t, pe, d, "pe", tc.revoked, false)
			out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10")
			if err == nil {
				t.Fatalf("swanctl --initiate succeeded:\n%s", out)
			}
			if !strings.Contains(out, "received AUTHENTICATION_FAILED notify error") {
				t.Fatalf("strongSwan did not see AUTHENTICATION_FAILED:\n%s", out)
			}
			ev := wait(t, events, ike.AuthFailed)
			lines := grepLines(rec.String(), `msg="IKE authentication failed"`)
			if n := strings.Count(lines, "\n") + 1; lines == "" || n != 1 || !strings.Contains(lines, tc.reason) {
				t.Fatalf("want one failure line naming %q, got:\n%s", tc.reason, lines)
			}
			t.Logf("Peregrine: %s", lines)
			t.Logf("event: %v", ev.Err)
			if out, _ := s.swanctl("--list-sas"); strings.Contains(out, "ESTABLISHED") {
				t.Fatalf("strongSwan has an SA:\n%s", out)
			}
		})
	}
}

// As initiator, Peregrine refuses strongSwan's expired certificate and
// tells it so in an INFORMATIONAL; and strongSwan refuses Peregrine's
// certificate from a CA it does not trust.
func TestCertRefusalsWithPeregrineInitiating(t *testing.T) {
	d := makeCerts(t)
	_, s, pe := setup(t)
	t.Run("peregrine refuses an expired responder", func(t *testing.T) {
		rec := &logRecorder{}
		peregrineLog = rec
		t.Cleanup(func() { peregrineLog = nil })
		s.loadCert(t, d, "sw-expired", "sw.example.net")
		_, events := peregrineCert(t, pe, d, "pe", "", true)
		wait(t, events, ike.AuthFailed)
		lines := grepLines(rec.String(), `msg="IKE authentication failed"`)
		if strings.Count(lines, "\n") != 0 || !strings.Contains(lines, "certificate expired") {
			t.Fatalf("want one line naming the expiry, got:\n%s", lines)
		}
		eventually(t, 5*time.Second, func() error {
			if l := grepLines(s.log(), "INFORMATIONAL request"); !strings.Contains(l, "N(AUTH_FAILED)") {
				return fmt.Errorf("charon got no INFORMATIONAL with AUTHENTICATION_FAILED:\n%s", l)
			}
			return nil
		})
		eventually(t, 5*time.Second, func() error {
			if out, _ := s.swanctl("--list-sas"); strings.Contains(out, "ESTABLISHED") {
				return fmt.Errorf("strongSwan still has an SA:\n%s", out)
			}
			return nil
		})
	})
	t.Run("strongswan refuses another CA", func(t *testing.T) {
		s.loadCert(t, d, "sw", "sw.example.net")
		_, events := peregrineCert(t, pe, d, "pe-otherca", "", true)
		ev := wait(t, events, ike.AuthFailed)
		if !strings.Contains(ev.Err.Error(), "AUTHENTICATION_FAILED") {
			t.Fatalf("event: %v", ev.Err)
		}
	})
}
