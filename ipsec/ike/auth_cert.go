package ike

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// Certificate authentication (RFC 7296 section 2.15 with RFC 7427
// digital signatures). The signed octets are PSK's; the AUTH payload
// carries an RSA PKCS#1 v1.5 or ECDSA P-256 signature over their SHA-256.
// The peer's leaf comes from its first CERT payload, later ones are
// intermediates; crypto/x509 verifies the chain against the configured
// CAs at the engine's clock. Then the revoked serials, then the identity,
// then the signature: the first failure is the one reason logged.

// ourAuth is what proves us: the AUTH payload, after our CERT payloads
// when the peer authenticates by certificate.
func (sa *ikeSA) ourAuth(realMsg, peerNonce, skp []byte, id ID) ([]Payload, error) {
	ca := sa.peer.Cert
	if ca == nil {
		return []Payload{Auth{Method: AuthPSK, Data: pskAuth(sa.suite.PRF, sa.peer.PSK.Bytes(), realMsg, peerNonce, skp, id)}.Payload()}, nil
	}
	var ps []Payload
	for _, c := range ca.Chain {
		ps = append(ps, Cert{Encoding: CertX509Signature, Data: c.Raw}.Payload())
	}
	s, err := signAuth(ca.Key.Signer(), sa.e.rand, signedOctets(sa.suite.PRF, realMsg, peerNonce, skp, id))
	if err != nil {
		return nil, err
	}
	return append(ps, s.Auth().Payload()), nil
}

// signAuth signs octets with k: sha256WithRSAEncryption or
// ecdsa-with-SHA256 (a DER ECDSA-Sig-Value, as RFC 7427 asks).
func signAuth(k crypto.Signer, rand io.Reader, octets []byte) (SignatureAuth, error) {
	h := sha256.Sum256(octets)
	var alg SigAlg
	switch k.Public().(type) {
	case *rsa.PublicKey:
		alg = SigRSASHA256
	case *ecdsa.PublicKey:
		alg = SigECDSASHA256
	default:
		return SignatureAuth{}, fmt.Errorf("ike: cannot sign AUTH with a %T key", k.Public())
	}
	sig, err := k.Sign(rand, h[:], crypto.SHA256)
	if err != nil {
		return SignatureAuth{}, fmt.Errorf("ike: signing AUTH: %w", err)
	}
	return SignatureAuth{Alg: alg, Sig: sig}, nil
}

// checkPeerAuth verifies the peer's AUTH (and certificate) over its signed
// octets. It returns "" when the peer is authenticated, else the reason
// for the log line; who is "initiator" or "responder".
func (sa *ikeSA) checkPeerAuth(who string, m *Message, auth Auth, id ID, realMsg, nonce, skp []byte) string {
	if sa.peer.Cert == nil {
		if auth.Method != AuthPSK {
			return fmt.Sprintf("%s uses AUTH method %d; this peer is configured for a pre-shared key (method 2)", who, auth.Method)
		}
		want := pskAuth(sa.suite.PRF, sa.peer.PSK.Bytes(), realMsg, nonce, skp, id)
		if !hmac.Equal(auth.Data, want) {
			return who + "'s AUTH payload does not verify: the pre-shared keys differ"
		}
		return ""
	}
	return sa.checkPeerCert(m, auth, signedOctets(sa.suite.PRF, realMsg, nonce, skp, id))
}

func (sa *ikeSA) checkPeerCert(m *Message, auth Auth, octets []byte) string {
	ca := sa.peer.Cert
	var certs []*x509.Certificate
	for _, p := range m.Payloads {
		if p.Type != PayloadCERT {
			continue
		}
		c, err := ParseCert(p.Body)
		if err != nil || c.Encoding != CertX509Signature {
			continue
		}
		x, err := x509.ParseCertificate(c.Data)
		if err != nil {
			return fmt.Sprintf("certificate %d does not parse: %v", len(certs), err)
		}
		certs = append(certs, x)
	}
	if len(certs) == 0 {
		return "no X.509 certificate (CERT payload) from the peer"
	}
	leaf := certs[0]
	subj := leaf.Subject.String()
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: ca.Roots(), Intermediates: inter, CurrentTime: sa.e.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("certificate expired: %q (serial %s) is valid from %s until %s", invalid.Cert.Subject.String(), serialHex(invalid.Cert), invalid.Cert.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), invalid.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
	case errors.As(err, &unknown):
		return fmt.Sprintf("certificate from an unknown CA: %q is issued by %q, not by a configured CA", subj, leaf.Issuer.String())
	case err != nil:
		return fmt.Sprintf("certificate %q does not verify: %v", subj, err)
	}
	for _, c := range chains[0] {
		if ca.Revoked.Has(c.SerialNumber) {
			return fmt.Sprintf("revoked serial %s: certificate %q is in the revoked-serials list", serialHex(c), c.Subject.String())
		}
	}
	if want := sa.remoteID(); !ikeparam.CertNames(leaf, want) {
		return fmt.Sprintf("identity mismatch: certificate %q (SANs %s) does not name the expected identity %s", subj, sanList(leaf), want)
	}
	if auth.Method != AuthDigitalSignature {
		return fmt.Sprintf("AUTH method %d where a digital signature (RFC 7427, method 14) was expected", auth.Method)
	}
	s, err := ParseSignatureAuth(auth.Data)
	if err != nil {
		return fmt.Sprintf("malformed signature AUTH: %v", err)
	}
	if reason := verifySignature(leaf.PublicKey, s, octets); reason != "" {
		return fmt.Sprintf("signature of %q: %s", subj, reason)
	}
	return ""
}

// verifySignature checks s over octets with pub; "" means it verifies.
func verifySignature(pub crypto.PublicKey, s SignatureAuth, octets []byte) string {
	h := sha256.Sum256(octets)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if s.Alg != SigRSASHA256 {
			return fmt.Sprintf("algorithm %s does not fit the certificate's RSA key", s.Alg)
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], s.Sig) != nil {
			return "does not verify with the certificate's key"
		}
	case *ecdsa.PublicKey:
		if s.Alg != SigECDSASHA256 {
			return fmt.Sprintf("algorithm %s does not fit the certificate's ECDSA key", s.Alg)
		}
		if !ecdsa.VerifyASN1(k, h[:], s.Sig) {
			return "does not verify with the certificate's key"
		}
	default:
		return fmt.Sprintf("unsupported %T key in the certificate", pub)
	}
	return ""
}

func sanList(c *x509.Certificate) string {
	var s []string
	s = append(s, c.DNSNames...)
	s = append(s, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		s = append(s, ip.String())
	}
	if len(s) == 0 {
		return "none"
	}
	return "[" + strings.Join(s, " ") + "]"
}

// serialHex is c's serial as strongSwan's pki prints it: hex octets
// joined by colons.
func serialHex(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	if len(b) == 0 {
		return "00"
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// sendAuthFailed tells the responder we refused its authentication, in
// an INFORMATIONAL request sent once (RFC 7296 section 2.21.2); the SA is
// dropped right after, so no retransmission follows.
func (sa *ikeSA) sendAuthFailed() {
	data := sa.encode(Informational, false, sa.nextID, []Payload{Notify{Type: NotifyAuthenticationFailed}.Payload()})
	sa.nextID++
	sa.e.send(sa.local, sa.remote, data)
}
