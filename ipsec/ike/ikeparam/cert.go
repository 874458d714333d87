package ikeparam

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
)

// CertAuth authenticates an IKE peer by X.509 certificate (RFC 7296
// section 2.15 signatures in the RFC 7427 form) instead of a PSK. Every
// certificate check is crypto/x509's: nothing here parses ASN.1.
type CertAuth struct {
	// Chain is our certificate, then any intermediates, as sent in CERT
	// payloads. Chain[0]'s public key is Key's.
	Chain []*x509.Certificate
	// Key signs our AUTH payload. It prints as "<redacted>".
	Key PrivateKey
	// CAs are the trust anchors a peer's certificate must chain to; their
	// SubjectPublicKeyInfo hashes go in our CERTREQ payloads.
	CAs []*x509.Certificate
	// Revoked lists the serials refused even when the chain verifies.
	Revoked RevokedSerials
}

// ErrCertConfig is wrapped by every error of NewCertAuth.
var ErrCertConfig = errors.New("certificate configuration")

// CertConfigError is NewCertAuth's error: File is the input at fault
// ("certificate", "private-key" or "ca-bundle"), and Reason never holds
// key material.
type CertConfigError struct{ File, Reason string }

func (e *CertConfigError) Error() string {
	return ErrCertConfig.Error() + ": " + e.File + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrCertConfig) true.
func (e *CertConfigError) Unwrap() error { return ErrCertConfig }

// NewCertAuth builds a CertAuth from PEM text: certPEM holds our
// certificate (first) and any intermediates, keyPEM its private key
// (PKCS#8, PKCS#1 RSA or SEC1 EC), caPEM one or more trust anchors. The
// key must be RSA (2048 bits or more) or ECDSA P-256 and must be the
// certificate's. The caller zeroes keyPEM afterwards.
func NewCertAuth(certPEM, keyPEM, caPEM []byte, revoked RevokedSerials) (*CertAuth, error) {
	bad := func(file string, err error) error { return &CertConfigError{File: file, Reason: err.Error()} }
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, bad("certificate", err)
	}
	cas, err := parseCertsPEM(caPEM)
	if err != nil {
		return nil, bad("ca-bundle", err)
	}
	signer, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, bad("private-key", err)
	}
	if err := checkSigner(signer); err != nil {
		return nil, bad("private-key", err)
	}
	pub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return nil, bad("private-key", fmt.Errorf("does not match the certificate %q", chain[0].Subject.String()))
	}
	return &CertAuth{Chain: chain, Key: NewPrivateKey(signer), CAs: cas, Revoked: revoked}, nil
}

// Roots is a pool of the trust anchors.
func (c *CertAuth) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range c.CAs {
		p.AddCert(ca)
	}
	return p
}

func parseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q where CERTIFICATE was expected", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(out), err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

// parseKeyPEM decodes the first key block. Its errors name the block type
// and never echo key bytes.
func parseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	defer clear(blk.Bytes)
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s block does not parse", blk.Type)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T keys cannot sign", k)
	}
	return s, nil
}

func checkSigner(s crypto.Signer) error {
	switch k := s.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits; at least 2048 needed", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ECDSA key on %s; only P-256 is supported", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("%T keys are not supported; use RSA or ECDSA P-256", k)
	}
	return nil
}

// PrivateKey is a signing key that prints as "<redacted>" whatever asks
// (every fmt verb, %#v, JSON and text marshalling, slog). The signer sits
// behind a pointer so that fmt, printing a struct holding a PrivateKey in
// an unexported field, shows an address, not the key's numbers.
type PrivateKey struct{ s *signerBox }

type signerBox struct{ crypto.Signer }

// NewPrivateKey wraps s.
func NewPrivateKey(s crypto.Signer) PrivateKey { return PrivateKey{&signerBox{s}} }

// Signer returns the key, for signing AUTH.
func (k PrivateKey) Signer() crypto.Signer {
	if k.s == nil {
		return nil
	}
	return k.s.Signer
}

const redacted = "<redacted>"

func (k PrivateKey) String() string {
	if k.s == nil {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the key.
func (k PrivateKey) GoString() string {
	return "ikeparam.PrivateKey{" + strconv.Quote(k.String()) + "}"
}

// Format implements fmt.Formatter so that no verb reaches the key.
func (k PrivateKey) Format(f fmt.State, verb rune) {
	s := k.String()
	switch {
	case verb == 'v' && f.Flag('#'):
		s = k.GoString()
	case verb == 'q':
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// LogValue implements slog.LogValuer.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler for JSON and YAML.
func (k PrivateKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// CertNames reports whether c names i: an FQDN as a DNS SAN or the
// subject's common name, an e-mail address as an e-mail SAN, an address
// as an IP SAN.
func CertNames(c *x509.Certificate, i Identity) bool {
	switch i.Type {
	case IDFQDN:
		for _, n := range c.DNSNames {
			if strings.EqualFold(n, i.Value) {
				return true
			}
		}
		return strings.EqualFold(c.Subject.CommonName, i.Value)
	case IDRFC822:
		for _, n := range c.EmailAddresses {
			if strings.EqualFold(n, i.Value) {
				return true
			}
		}
	case IDIPv4, IDIPv6:
		for _, ip := range c.IPAddresses {
			if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == i.Addr.Unmap() {
				return true
			}
		}
	}
	return false
}
