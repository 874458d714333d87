package ikeparam

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Proposal names follow strongSwan's proposal strings, so an operator can
// copy one between a Peregrine config and a swanctl.conf: algorithms joined
// by '-', in any order, e.g. "aes128gcm16-prf-sha256-curve25519" or
// "aes256-sha384-modp2048" for IKE and "aes128gcm16-esn", "aes256-sha256"
// or "aes256gcm16-curve25519" (PFS) for ESP. As in strongSwan, "aes256" is
// AES-CBC, "sha256" is the integrity algorithm HMAC-SHA2-256-128, an IKE
// proposal without a PRF takes the integrity algorithms' (sha384 gives
// prf-sha384), integrity algorithms next to AEADs are dropped, and AEAD
// and CBC ciphers cannot share one proposal.
var (
	encrNames = map[string]Encr{
		"aes128gcm16": AES128GCM16, "aes128gcm": AES128GCM16,
		"aes256gcm16": AES256GCM16, "aes256gcm": AES256GCM16,
		"chacha20poly1305": ChaCha20Poly1305,
		"aes128":           AES128CBC, "aes256": AES256CBC,
	}
	integNames = map[string]Integ{
		"sha256": IntegHMACSHA256128, "sha2_256": IntegHMACSHA256128,
		"sha384": IntegHMACSHA384192, "sha2_384": IntegHMACSHA384192,
		"sha512": IntegHMACSHA512256, "sha2_512": IntegHMACSHA512256,
	}
	prfNames = map[string]PRF{
		"prfsha256": PRFHMACSHA256, "prfsha384": PRFHMACSHA384, "prfsha512": PRFHMACSHA512,
	}
	dhNames = map[string]DHGroup{
		"curve25519": DHCurve25519, "x25519": DHCurve25519,
		"ecp256": DHECP256, "modp2048": DHModp2048,
	}
)

// proposalTokens splits a proposal string, joining strongSwan's "prf-sha256"
// into one token "prfsha256".
func proposalTokens(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty proposal")
	}
	parts := strings.Split(strings.ToLower(s), "-")
	var out []string
	for i := 0; i < len(parts); i++ {
		if parts[i] == "prf" && i+1 < len(parts) {
			out = append(out, "prf"+parts[i+1])
			i++
			continue
		}
		if parts[i] == "" {
			return nil, fmt.Errorf("empty algorithm in %q", s)
		}
		out = append(out, parts[i])
	}
	return out, nil
}

// errNoCipher and errNoInteg name what a proposal string lacks.
const (
	errNoCipher = "no cipher (aes128gcm16, aes256gcm16, chacha20poly1305, aes128 or aes256)"
	errNoInteg  = "no integrity algorithm (sha256, sha384 or sha512) for %s"
)

// ciphers applies strongSwan's rules to one proposal's ciphers and
// integrity algorithms: AEADs and CBC apart, integrity dropped next to an
// AEAD and required next to CBC.
func ciphers(encr []Encr, integ []Integ) ([]Integ, error) {
	if len(encr) == 0 {
		return nil, errors.New(errNoCipher)
	}
	for _, e := range encr[1:] {
		if e.IsAEAD() != encr[0].IsAEAD() {
			return nil, fmt.Errorf("%s and %s in one proposal: AEAD and non-AEAD ciphers need separate proposals", encr[0], e)
		}
	}
	if encr[0].IsAEAD() {
		return nil, nil
	}
	if len(integ) == 0 {
		return nil, fmt.Errorf(errNoInteg, encr[0])
	}
	return integ, nil
}

// UnmarshalText parses an IKE proposal such as
// "aes128gcm16-prf-sha256-curve25519" or "aes256-sha384-modp2048". It
// needs at least one cipher, a PRF (named, or taken from the integrity
// algorithms) and a DH group, and an integrity algorithm with AES-CBC.
func (p *IKEProposal) UnmarshalText(b []byte) error {
	toks, err := proposalTokens(string(b))
	if err != nil {
		return err
	}
	var q IKEProposal
	for _, t := range toks {
		if e, ok := encrNames[t]; ok {
			q.Encr = append(q.Encr, e)
		} else if in, ok := integNames[t]; ok {
			q.Integ = append(q.Integ, in)
		} else if f, ok := prfNames[t]; ok {
			q.PRF = append(q.PRF, f)
		} else if g, ok := dhNames[t]; ok {
			q.DH = append(q.DH, g)
		} else {
			return fmt.Errorf("unknown or unsupported algorithm %q (want aes128gcm16, aes256gcm16, chacha20poly1305, aes128, aes256, sha256/384/512, prf-sha256/384/512, curve25519, ecp256, modp2048)", t)
		}
	}
	if len(q.PRF) == 0 {
		for _, in := range q.Integ {
			if f := in.PRF(); !slices.Contains(q.PRF, f) {
				q.PRF = append(q.PRF, f)
			}
		}
	}
	if q.Integ, err = ciphers(q.Encr, q.Integ); err != nil {
		return err
	}
	switch {
	case len(q.PRF) == 0:
		return fmt.Errorf("no PRF (prf-sha256, prf-sha384 or prf-sha512, or an integrity algorithm sha256/384/512)")
	case len(q.DH) == 0:
		return fmt.Errorf("no DH group (curve25519, ecp256 or modp2048)")
	}
	*p = q
	return nil
}

// String is the proposal in the form UnmarshalText reads.
func (p IKEProposal) String() string {
	var parts []string
	for _, e := range p.Encr {
		parts = append(parts, e.String())
	}
	for _, in := range p.Integ {
		parts = append(parts, in.String())
	}
	for _, f := range p.PRF {
		parts = append(parts, "prf-"+strings.TrimPrefix(f.String(), "prf"))
	}
	for _, g := range p.DH {
		parts = append(parts, dhName(g))
	}
	return strings.Join(parts, "-")
}

// MarshalText implements encoding.TextMarshaler.
func (p IKEProposal) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses an ESP proposal such as "aes128gcm16",
// "aes256gcm16-esn", "aes256-sha256" or "aes128gcm16-curve25519" (a DH
// group means PFS on rekeys). "esn" and "noesn" together accept either.
func (p *ESPProposal) UnmarshalText(b []byte) error {
	toks, err := proposalTokens(string(b))
	if err != nil {
		return err
	}
	var q ESPProposal
	var esn, noesn bool
	for _, t := range toks {
		if e, ok := encrNames[t]; ok {
			q.Encr = append(q.Encr, e)
		} else if in, ok := integNames[t]; ok {
			q.Integ = append(q.Integ, in)
		} else if g, ok := dhNames[t]; ok {
			q.DH = append(q.DH, g)
		} else if t == "esn" {
			esn = true
		} else if t == "noesn" {
			noesn = true
		} else {
			return fmt.Errorf("unknown or unsupported algorithm %q (want aes128gcm16, aes256gcm16, chacha20poly1305, aes128, aes256, sha256/384/512, esn, noesn, curve25519, ecp256, modp2048)", t)
		}
	}
	if q.Integ, err = ciphers(q.Encr, q.Integ); err != nil {
		return err
	}
	q.ESN = esnMode(esn, noesn)
	*p = q
	return nil
}

// String is the proposal in the form UnmarshalText reads.
func (p ESPProposal) String() string {
	var parts []string
	for _, e := range p.Encr {
		parts = append(parts, e.String())
	}
	for _, in := range p.Integ {
		parts = append(parts, in.String())
	}
	for _, g := range p.DH {
		parts = append(parts, dhName(g))
	}
	switch p.ESN {
	case ESNOn:
		parts = append(parts, "esn")
	case ESNOff:
		parts = append(parts, "noesn")
	}
	return strings.Join(parts, "-")
}

// MarshalText implements encoding.TextMarshaler.
func (p ESPProposal) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// esnMode is what a proposal's "esn" and "noesn" tokens ask for: one of
// them alone, or ESNEither with both or neither.
func esnMode(esn, noesn bool) ESNMode {
	switch {
	case esn && !noesn:
		return ESNOn
	case noesn && !esn:
		return ESNOff
	}
	return ESNEither
}

// dhName is strongSwan's name for g.
func dhName(g DHGroup) string {
	if g == DHCurve25519 {
		return "curve25519"
	}
	return g.String()
}

// ahIntegNames are the integrity algorithms of an AH proposal, by
// strongSwan's names.
var ahIntegNames = map[string]Integ{
	"sha256": IntegHMACSHA256128, "sha2_256": IntegHMACSHA256128,
	"aes128gmac": IntegAES128GMAC, "aes256gmac": IntegAES256GMAC,
}

// UnmarshalText parses an AH proposal such as "sha256", "aes128gmac-esn"
// or "sha256-aes256gmac-curve25519" (a DH group means PFS on rekeys):
// integrity algorithms only, as strongSwan's ah_proposals.
func (p *AHProposal) UnmarshalText(b []byte) error {
	toks, err := proposalTokens(string(b))
	if err != nil {
		return err
	}
	var q AHProposal
	var esn, noesn bool
	for _, t := range toks {
		if in, ok := ahIntegNames[t]; ok {
			q.Integ = append(q.Integ, in)
		} else if g, ok := dhNames[t]; ok {
			q.DH = append(q.DH, g)
		} else if t == "esn" {
			esn = true
		} else if t == "noesn" {
			noesn = true
		} else if _, ok := encrNames[t]; ok {
			return fmt.Errorf("%q is a cipher: AH encrypts nothing (want sha256, aes128gmac or aes256gmac)", t)
		} else {
			return fmt.Errorf("unknown or unsupported algorithm %q (want sha256, aes128gmac, aes256gmac, esn, noesn, curve25519, ecp256, modp2048)", t)
		}
	}
	if len(q.Integ) == 0 {
		return errors.New("no integrity algorithm (sha256, aes128gmac or aes256gmac)")
	}
	q.ESN = esnMode(esn, noesn)
	*p = q
	return nil
}

// String is the proposal in the form UnmarshalText reads.
func (p AHProposal) String() string { return p.Child().String() }

// MarshalText implements encoding.TextMarshaler.
func (p AHProposal) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
