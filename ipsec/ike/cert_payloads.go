package ike

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
)

// CertEncoding is the Cert Encoding field of CERT and CERTREQ (RFC 7296
// section 3.6).
type CertEncoding uint8

// CertX509Signature is a DER X.509 certificate, the only encoding spoken.
const CertX509Signature CertEncoding = 4

// Cert is the Certificate payload body:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Cert Encoding |                                               |
//	+-+-+-+-+-+-+-+-+                                               |
//	~                       Certificate Data                        ~
//
// With CertX509Signature the data is one DER certificate, which
// crypto/x509 parses.
type Cert struct {
	Encoding CertEncoding
	Data     []byte
}

// ParseCert parses a CERT payload body.
func ParseCert(b []byte) (Cert, error) {
	if len(b) < 2 {
		return Cert{}, perr("CERT payload", 0, ErrTruncated)
	}
	return Cert{Encoding: CertEncoding(b[0]), Data: b[1:]}, nil
}

// Payload encodes the CERT payload.
func (c Cert) Payload() Payload {
	return Payload{Type: PayloadCERT, Body: append([]byte{byte(c.Encoding)}, c.Data...)}
}

// CertReq is the Certificate Request payload body:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Cert Encoding |                                               |
//	+-+-+-+-+-+-+-+-+                                               |
//	~                    Certification Authority                    ~
//
// With CertX509Signature the authority field is a concatenation of SHA-1
// hashes of trusted CAs' SubjectPublicKeyInfo, possibly none.
type CertReq struct {
	Encoding CertEncoding
	Data     []byte
}

// caHashLen is the length of one CA hash in a CERTREQ.
const caHashLen = sha1.Size

// ParseCertReq parses a CERTREQ payload body. An X.509 request whose
// authority field is not whole SHA-1 hashes is malformed.
func ParseCertReq(b []byte) (CertReq, error) {
	if len(b) < 1 {
		return CertReq{}, perr("CERTREQ payload", 0, ErrTruncated)
	}
	r := CertReq{Encoding: CertEncoding(b[0]), Data: b[1:]}
	if r.Encoding == CertX509Signature && len(r.Data)%caHashLen != 0 {
		return CertReq{}, perr("CERTREQ authorities", 1, ErrBadLength)
	}
	return r, nil
}

// Authorities splits an X.509 request into its CA hashes.
func (r CertReq) Authorities() [][]byte {
	if r.Encoding != CertX509Signature {
		return nil
	}
	var out [][]byte
	for b := r.Data; len(b) >= caHashLen; b = b[caHashLen:] {
		out = append(out, b[:caHashLen])
	}
	return out
}

// Payload encodes the CERTREQ payload.
func (r CertReq) Payload() Payload {
	return Payload{Type: PayloadCERTREQ, Body: append([]byte{byte(r.Encoding)}, r.Data...)}
}

// certReqFor is the CERTREQ naming cas: SHA-1 of each CA's
// SubjectPublicKeyInfo (RFC 7296 section 3.7), which crypto/x509 keeps
// as RawSubjectPublicKeyInfo.
func certReqFor(cas []*x509.Certificate) CertReq {
	r := CertReq{Encoding: CertX509Signature}
	for _, ca := range cas {
		h := sha1.Sum(ca.RawSubjectPublicKeyInfo)
		r.Data = append(r.Data, h[:]...)
	}
	return r
}

// SigAlg is a signature algorithm of RFC 7427 digital-signature AUTH.
type SigAlg uint8

// The signature algorithms spoken, all over SHA-256.
const (
	SigUnknown SigAlg = iota
	SigRSASHA256
	SigECDSASHA256
)

func (a SigAlg) String() string {
	switch a {
	case SigRSASHA256:
		return "sha256WithRSAEncryption"
	case SigECDSASHA256:
		return "ecdsa-with-SHA256"
	}
	return "unknown signature algorithm"
}

// sigAlgIDs are the DER AlgorithmIdentifiers of RFC 7427 appendix A, the
// byte strings listed there for sha256WithRSAEncryption and
// ecdsa-with-sha256: they are compared and copied, never parsed.
var sigAlgIDs = map[SigAlg][]byte{
	// SEQUENCE { OID 1.2.840.113549.1.1.11, NULL }
	SigRSASHA256: {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00},
	// SEQUENCE { OID 1.2.840.10045.4.3.2 }
	SigECDSASHA256: {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02},
}

// AuthDigitalSignature is RFC 7427's Digital Signature AUTH method.
const AuthDigitalSignature AuthMethod = 14

// SignatureAuth is the Authentication Data of an AUTH payload with
// AuthDigitalSignature (RFC 7427 section 3):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| ASN.1 Length  | AlgorithmIdentifier ASN.1 object              |
//	+-+-+-+-+-+-+-+-+                                               |
//	~                       Signature Value                         ~
//
// Alg is SigUnknown for an AlgorithmIdentifier not in sigAlgIDs.
type SignatureAuth struct {
	Alg SigAlg
	Sig []byte
}

// ParseSignatureAuth parses the data of a digital-signature AUTH payload.
// An unknown algorithm is not a parse error: the caller refuses it.
func ParseSignatureAuth(b []byte) (SignatureAuth, error) {
	if len(b) < 1 {
		return SignatureAuth{}, perr("AUTH signature", 0, ErrTruncated)
	}
	n := int(b[0])
	if n == 0 || 1+n > len(b) {
		return SignatureAuth{}, perr("AUTH AlgorithmIdentifier", 0, ErrBadLength)
	}
	s := SignatureAuth{Sig: b[1+n:]}
	for alg, id := range sigAlgIDs {
		if bytes.Equal(b[1:1+n], id) {
			s.Alg = alg
		}
	}
	if len(s.Sig) == 0 {
		return SignatureAuth{}, perr("AUTH signature value", 1+n, ErrTruncated)
	}
	return s, nil
}

// Auth encodes s as an AUTH payload body. Alg must be known.
func (s SignatureAuth) Auth() Auth {
	id := sigAlgIDs[s.Alg]
	d := append(append([]byte{byte(len(id))}, id...), s.Sig...)
	return Auth{Method: AuthDigitalSignature, Data: d}
}

// HashAlg is a hash algorithm of SIGNATURE_HASH_ALGORITHMS (RFC 7427
// section 4, IANA "IKEv2 Hash Algorithms").
type HashAlg uint16

// HashSHA256 is the one hash used for signatures here.
const HashSHA256 HashAlg = 2

// ParseHashAlgorithms parses a SIGNATURE_HASH_ALGORITHMS notify's data:
// a list of 16-bit hash algorithm numbers.
func ParseHashAlgorithms(b []byte) ([]HashAlg, error) {
	if len(b)%2 != 0 {
		return nil, perr("SIGNATURE_HASH_ALGORITHMS", 0, ErrBadLength)
	}
	out := make([]HashAlg, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		out = append(out, HashAlg(binary.BigEndian.Uint16(b[i:])))
	}
	return out, nil
}

// hashAlgorithmsNotify announces the hashes we sign and verify with.
func hashAlgorithmsNotify() Payload {
	return Notify{Type: NotifySignatureHashAlgorithms, Data: binary.BigEndian.AppendUint16(nil, uint16(HashSHA256))}.Payload()
}
