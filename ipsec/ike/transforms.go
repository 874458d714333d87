package ike

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// The transforms, proposals and identities are ikeparam's, so that
// package config can parse them without importing the engine; these
// names keep ike's API as it was.
type (
	Encr        = ikeparam.Encr
	Integ       = ikeparam.Integ
	PRF         = ikeparam.PRF
	DHGroup     = ikeparam.DHGroup
	ESNMode     = ikeparam.ESNMode
	IKEProposal = ikeparam.IKEProposal
	ESPProposal = ikeparam.ESPProposal
	AHProposal  = ikeparam.AHProposal
	IDType      = ikeparam.IDType
	Identity    = ikeparam.Identity
)

// Transform IDs (IANA "IKEv2 Transform Type N Values").
const (
	EncrAESCBC           = ikeparam.EncrAESCBC
	EncrAESGCM16         = ikeparam.EncrAESGCM16
	EncrChaCha20Poly1305 = ikeparam.EncrChaCha20Poly1305
)

// The transforms Peregrine speaks, for IKE and ESP alike.
var (
	AES128GCM16      = ikeparam.AES128GCM16
	AES256GCM16      = ikeparam.AES256GCM16
	ChaCha20Poly1305 = ikeparam.ChaCha20Poly1305
	AES128CBC        = ikeparam.AES128CBC
	AES256CBC        = ikeparam.AES256CBC
)

// Integrity transforms, PRFs, DH groups, ESN modes and identity types.
const (
	IntegNone          = ikeparam.IntegNone
	IntegHMACSHA256128 = ikeparam.IntegHMACSHA256128
	IntegHMACSHA384192 = ikeparam.IntegHMACSHA384192
	IntegHMACSHA512256 = ikeparam.IntegHMACSHA512256
	IntegAES128GMAC    = ikeparam.IntegAES128GMAC // AH only
	IntegAES256GMAC    = ikeparam.IntegAES256GMAC // AH only

	PRFHMACSHA256 = ikeparam.PRFHMACSHA256
	PRFHMACSHA384 = ikeparam.PRFHMACSHA384
	PRFHMACSHA512 = ikeparam.PRFHMACSHA512

	DHNone       = ikeparam.DHNone
	DHModp2048   = ikeparam.DHModp2048
	DHECP256     = ikeparam.DHECP256
	DHCurve25519 = ikeparam.DHCurve25519

	ESNEither = ikeparam.ESNEither
	ESNOn     = ikeparam.ESNOn
	ESNOff    = ikeparam.ESNOff

	IDIPv4   = ikeparam.IDIPv4
	IDFQDN   = ikeparam.IDFQDN
	IDRFC822 = ikeparam.IDRFC822
	IDIPv6   = ikeparam.IDIPv6
)

// AddrIdentity is the ID_IPV4_ADDR or ID_IPV6_ADDR identity of a.
func AddrIdentity(a netip.Addr) Identity { return ikeparam.AddrIdentity(a) }

// RFC822Identity is an ID_RFC822_ADDR identity.
func RFC822Identity(addr string) Identity { return ikeparam.RFC822Identity(addr) }

// CertAuth is a peer's certificate authentication (see ikeparam.CertAuth).
type CertAuth = ikeparam.CertAuth

// FQDNIdentity is an ID_FQDN identity.
func FQDNIdentity(name string) Identity { return ikeparam.FQDNIdentity(name) }

// transformOf is the SA payload transform that offers or answers with t.
func transformOf[T Encr | Integ](t T) Transform {
	switch t := any(t).(type) {
	case Encr:
		return Transform{Type: TransformENCR, ID: t.ID, KeyLen: t.KeyLen}
	case Integ:
		return Transform{Type: TransformINTEG, ID: uint16(t)}
	}
	return Transform{} // unreachable: T is one of the two
}

// ahIntegOf maps an AH integrity transform to the AH engine's; 0 for one
// AH does not take.
func ahIntegOf(i Integ) ah.Integ {
	switch i {
	case IntegHMACSHA256128:
		return ah.HMACSHA256128
	case IntegAES128GMAC:
		return ah.AES128GMAC
	case IntegAES256GMAC:
		return ah.AES256GMAC
	}
	return 0
}

// espCipher maps an encryption and integrity pair to the ESP engine's
// suite; 0 for a pair it has none for (an AEAD with an integrity
// transform, AES-CBC without one).
func espCipher(e Encr, i Integ) esp.Cipher {
	switch {
	case e == AES128GCM16 && i == IntegNone:
		return esp.AES128GCM16
	case e == AES256GCM16 && i == IntegNone:
		return esp.AES256GCM16
	case e == ChaCha20Poly1305 && i == IntegNone:
		return esp.ChaCha20Poly1305
	case e == AES128CBC && i == IntegHMACSHA256128:
		return esp.AES128CBCSHA256
	case e == AES128CBC && i == IntegHMACSHA384192:
		return esp.AES128CBCSHA384
	case e == AES128CBC && i == IntegHMACSHA512256:
		return esp.AES128CBCSHA512
	case e == AES256CBC && i == IntegHMACSHA256128:
		return esp.AES256CBCSHA256
	case e == AES256CBC && i == IntegHMACSHA384192:
		return esp.AES256CBCSHA384
	case e == AES256CBC && i == IntegHMACSHA512256:
		return esp.AES256CBCSHA512
	}
	return 0
}
