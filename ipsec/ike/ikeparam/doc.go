// Package ikeparam holds the IKEv2 values an operator configures and the
// engine negotiates with: encryption, integrity, PRF and DH transforms,
// IKE and ESP proposals with their strongSwan-style text form
// ("aes128gcm16-prf-sha256-curve25519"), identities, and the
// certificate authentication material (CertAuth: our chain, a private
// key that prints as "<redacted>", the CAs, a revoked-serial list, all
// parsed by crypto/x509 and encoding/pem). They are plain
// values with no protocol state, so that package config can parse and
// check them without importing the IKE engine; package ike uses them
// under the same names (ike.IKEProposal is ikeparam.IKEProposal).
package ikeparam
