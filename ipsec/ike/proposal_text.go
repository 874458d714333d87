package ike

import (
	"fmt"
	"strings"
)

// Proposal names follow strongSwan's proposal strings, so an operator can
// copy one between a Peregrine config and a swanctl.conf: algorithms joined
// by '-', in any order, e.g. "aes128gcm16-prf-sha256-curve25519" for IKE and
// "aes128gcm16-esn" or "aes256gcm16-curve25519" (PFS) for ESP.
var (
	encrNames = map[string]Encr{
		"aes128gcm16": AES128GCM16, "aes128gcm": AES128GCM16,
		"aes256gcm16": AES256GCM16, "aes256gcm": AES256GCM16,
		"chacha20poly1305": ChaCha20Poly1305,
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

// UnmarshalText parses an IKE proposal such as
// "aes128gcm16-prf-sha256-curve25519". It needs at least one cipher, one
// PRF and one DH group; only AEAD ciphers exist here, so an integrity
// algorithm (sha256 without "prf-") is refused.
func (p *IKEProposal) UnmarshalText(b []byte) error {
	toks, err := proposalTokens(string(b))
	if err != nil {
		return err
	}
	var q IKEProposal
	for _, t := range toks {
		if e, ok := encrNames[t]; ok {
			q.Encr = append(q.Encr, e)
		} else if f, ok := prfNames[t]; ok {
			q.PRF = append(q.PRF, f)
		} else if g, ok := dhNames[t]; ok {
			q.DH = append(q.DH, g)
		} else {
			return fmt.Errorf("unknown or unsupported algorithm %q (want aes128gcm16, aes256gcm16, chacha20poly1305, prf-sha256/384/512, curve25519, ecp256, modp2048)", t)
		}
	}
	switch {
	case len(q.Encr) == 0:
		return fmt.Errorf("no cipher (aes128gcm16, aes256gcm16 or chacha20poly1305)")
	case len(q.PRF) == 0:
		return fmt.Errorf("no PRF (prf-sha256, prf-sha384 or prf-sha512)")
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
// "aes256gcm16-esn" or "aes128gcm16-curve25519" (a DH group means PFS on
// rekeys). "esn" and "noesn" together accept either.
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
		} else if g, ok := dhNames[t]; ok {
			q.DH = append(q.DH, g)
		} else if t == "esn" {
			esn = true
		} else if t == "noesn" {
			noesn = true
		} else {
			return fmt.Errorf("unknown or unsupported algorithm %q (want aes128gcm16, aes256gcm16, chacha20poly1305, esn, noesn, curve25519, ecp256, modp2048)", t)
		}
	}
	if len(q.Encr) == 0 {
		return fmt.Errorf("no cipher (aes128gcm16, aes256gcm16 or chacha20poly1305)")
	}
	switch {
	case esn && !noesn:
		q.ESN = ESNOn
	case noesn && !esn:
		q.ESN = ESNOff
	}
	*p = q
	return nil
}

// String is the proposal in the form UnmarshalText reads.
func (p ESPProposal) String() string {
	var parts []string
	for _, e := range p.Encr {
		parts = append(parts, e.String())
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

// dhName is strongSwan's name for g.
func dhName(g DHGroup) string {
	if g == DHCurve25519 {
		return "curve25519"
	}
	return g.String()
}
