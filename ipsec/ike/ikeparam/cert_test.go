package ikeparam

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRevokedSerials(t *testing.T) {
	r, err := ParseRevokedSerials([]byte("# revoked\n01f3a9\n  0x1F3AA # pe7\n\n3c:9e:02:11\r\n000064\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{0x1f3a9, 0x1f3aa, 0x3c9e0211, 100} {
		if !r.Has(big.NewInt(n)) {
			t.Errorf("serial %x not listed", n)
		}
	}
	if r.Has(big.NewInt(101)) || len(r) != 4 {
		t.Errorf("list %v", r)
	}
	for _, bad := range []string{"12\nxyz\n", "-5", "+5", "0x", strings.Repeat("1", 41), "1_000"} {
		_, err := ParseRevokedSerials([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzRevokedSerials: any file either fails with a line number or gives
// serials that all round-trip through the list's own format.
// Seeds: testdata/fuzz/FuzzRevokedSerials.
func FuzzRevokedSerials(f *testing.F) {
	f.Add([]byte("01\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRevokedSerials(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for s := range r {
			n, ok := new(big.Int).SetString(s, 16)
			if !ok || !r.Has(n) || n.Sign() < 0 {
				t.Fatalf("listed %q does not round-trip", s)
			}
		}
	})
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func selfSigned(t *testing.T, k any, pub any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "pe1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", der)
}

func TestNewCertAuth(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ek2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	cert := selfSigned(t, ek, ek.Public())
	pk8, _ := x509.MarshalPKCS8PrivateKey(ek)
	sec1, _ := x509.MarshalECPrivateKey(ek)
	sec1other, _ := x509.MarshalECPrivateKey(ek2)
	sec1p384, _ := x509.MarshalECPrivateKey(p384)
	for _, key := range [][]byte{pemOf("PRIVATE KEY", pk8), pemOf("EC PRIVATE KEY", sec1)} {
		a, err := NewCertAuth(cert, key, cert, nil)
		if err != nil || a.Chain[0].Subject.CommonName != "pe1" || len(a.CAs) != 1 || a.Key.Signer() == nil {
			t.Fatalf("%v %+v", err, a)
		}
	}
	for _, tc := range []struct {
		name           string
		cert, key, cas []byte
		want           string
	}{
		{"key of another certificate", cert, pemOf("EC PRIVATE KEY", sec1other), cert, "does not match the certificate"},
		{"P-384", selfSigned(t, p384, p384.Public()), pemOf("EC PRIVATE KEY", sec1p384), cert, "only P-256"},
		{"RSA 1024", selfSigned(t, small, small.Public()), pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), cert, "at least 2048"},
		{"key is not PEM", cert, []byte("not a key"), cert, "private-key: no PEM block"},
		{"key block garbled", cert, pemOf("EC PRIVATE KEY", []byte{1, 2, 3}), cert, "does not parse"},
		{"certificate is a key", pemOf("EC PRIVATE KEY", sec1), pemOf("EC PRIVATE KEY", sec1), cert, "certificate: PEM block \"EC PRIVATE KEY\""},
		{"empty CA bundle", cert, pemOf("EC PRIVATE KEY", sec1), nil, "ca-bundle: no PEM CERTIFICATE block"},
	} {
		_, err := NewCertAuth(tc.cert, tc.key, tc.cas, nil)
		if !errors.Is(err, ErrCertConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A PrivateKey, alone or inside a CertAuth, prints no key material in
// any fmt verb, JSON or slog.
func TestPrivateKeyRedacts(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a := CertAuth{Key: NewPrivateKey(ek)}
	raw, err := ek.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := new(big.Int).SetBytes(raw).String()
	dx := fmt.Sprintf("%x", raw)
	var outs []string
	for _, v := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q", "%p"} {
		outs = append(outs, fmt.Sprintf(v, a.Key), fmt.Sprintf(v, a), fmt.Sprintf(v, &a))
	}
	j, _ := json.Marshal(a.Key)
	outs = append(outs, string(j))
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "key", a.Key)
	outs = append(outs, sb.String())
	for _, o := range outs {
		if strings.Contains(o, d) || strings.Contains(o, dx) {
			t.Fatalf("key material printed: %s", o)
		}
	}
	if fmt.Sprint(a.Key) != "<redacted>" {
		t.Errorf("%v", a.Key)
	}
}

// Two loads of the same files are reflect.DeepEqual even after one of
// them has signed: peregrined compares IKE peers that way on reload, and
// a key that cached state while signing would make every reload look
// like a change.
func TestCertAuthLoadsCompareEqual(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	sec1, _ := x509.MarshalECPrivateKey(ek)
	for name, kc := range map[string]struct {
		key  []byte
		cert []byte
	}{
		"ecdsa": {pemOf("EC PRIVATE KEY", sec1), selfSigned(t, ek, ek.Public())},
		"rsa":   {pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), selfSigned(t, rk, rk.Public())},
	} {
		a, err := NewCertAuth(kc.cert, kc.key, kc.cert, RevokedSerials{"0b": {}})
		if err != nil {
			t.Fatal(err)
		}
		h := make([]byte, 32)
		if _, err := a.Key.Signer().Sign(rand.Reader, h, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		b, err := NewCertAuth(kc.cert, kc.key, kc.cert, RevokedSerials{"0b": {}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two loads of the same files differ", name)
		}
	}
}
