package ike

import (
	"crypto/hmac"
	"encoding/binary"
	"hash"
)

// prfHMAC is prf(key, data...) for an HMAC PRF. For HMAC the key may have
// any length (RFC 7296 section 2.13), so SKEYSEED takes Ni | Nr whole.
func prfHMAC(h func() hash.Hash, key []byte, data ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// prf is prf(key, data...) for the negotiated PRF p.
func prf(p PRF, key []byte, data ...[]byte) []byte { return prfHMAC(p.Hash(), key, data...) }

// prfPlus is prf+ (RFC 7296 section 2.13):
//
//	prf+ (K,S) = T1 | T2 | T3 | T4 | ...
//	T1 = prf (K, S | 0x01)
//	T2 = prf (K, T1 | S | 0x02)
//
// truncated to n bytes. The counter is one byte, so at most 255 blocks.
func prfPlus(h func() hash.Hash, key, seed []byte, n int) []byte {
	out := make([]byte, 0, n+64)
	var t []byte
	for i := 1; len(out) < n; i++ {
		if i > 255 {
			panic("ike: prf+ asked for more than 255 blocks")
		}
		t = prfHMAC(h, key, t, seed, []byte{byte(i)})
		out = append(out, t...)
	}
	return out[:n]
}

// ikeKeys are the keys of one IKE SA (RFC 7296 section 2.14). With an
// AEAD, SK_ai and SK_ar are empty (RFC 5282 section 7.1); with AES-CBC
// they are the HMAC keys, as long as the hash's output (RFC 4868).
type ikeKeys struct {
	d, ai, ar, ei, er, pi, pr []byte
}

// skeyseed is SKEYSEED = prf(Ni | Nr, g^ir) for a new IKE SA.
func skeyseed(p PRF, ni, nr, gir []byte) []byte {
	return prf(p, append(append([]byte{}, ni...), nr...), gir)
}

// skeyseedRekey is SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), for
// an IKE SA made by CREATE_CHILD_SA (RFC 7296 section 2.18). oldPRF is
// the old IKE SA's PRF.
func skeyseedRekey(oldPRF PRF, oldSKd, gir, ni, nr []byte) []byte {
	return prf(oldPRF, oldSKd, gir, ni, nr)
}

// deriveIKEKeys splits
//
//	{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//	    = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
//
// with the lengths of suite s: the PRF's output for SK_d and SK_p*, the
// integrity key (none with an AEAD) for SK_a*, the cipher's for SK_e*.
func deriveIKEKeys(s ikeSuite, seed, ni, nr []byte, spiI, spiR uint64) ikeKeys {
	st := append(append([]byte{}, ni...), nr...)
	st = binary.BigEndian.AppendUint64(st, spiI)
	st = binary.BigEndian.AppendUint64(st, spiR)
	pl, al, el := s.PRF.KeyLen(), s.Integ.KeyLen(), s.Encr.KeyMatLen()
	km := prfPlus(s.PRF.Hash(), seed, st, 3*pl+2*al+2*el)
	var k ikeKeys
	k.d, km = km[:pl], km[pl:]
	k.ai, km = km[:al], km[al:]
	k.ar, km = km[:al], km[al:]
	k.ei, km = km[:el], km[el:]
	k.er, km = km[:el], km[el:]
	k.pi, k.pr = km[:pl], km[pl:2*pl]
	return k
}

// childKeys derives a child SA's key material (RFC 7296 section 2.17):
//
//	KEYMAT = prf+(SK_d, Ni | Nr)             without PFS (gir nil)
//	KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr) with PFS
//
// taken initiator-to-responder first. Each direction is n bytes
// (childSuite.keyMatLen), exactly the esp.Config.Key layout: key || salt
// with an AEAD (RFC 4106 section 8.1), encryption key then integrity key
// with AES-CBC (RFC 7296 section 2.17); for AH the integrity key alone,
// the ah.Config.Key layout: an HMAC key, or an AES-GMAC key || 4-byte salt
// (RFC 4543 section 8.1). Ni and Nr are the nonces of the exchange that
// made the child.
func childKeys(p PRF, skd []byte, n int, gir, ni, nr []byte) (iToR, rToI []byte) {
	seed := append(append(append([]byte{}, gir...), ni...), nr...)
	km := prfPlus(p.Hash(), skd, seed, 2*n)
	return km[:n], km[n:]
}

// keyPad is the constant of RFC 7296 section 2.15.
const keyPad = "Key Pad for IKEv2"

// pskAuth computes a Shared Key MIC AUTH value (RFC 7296 section 2.15):
//
//	AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//
// with SignedOctets = RealMessage | NonceOfPeer | prf(SK_p, IDPayloadBody).
// realMsg is the sender's own IKE_SA_INIT message as sent; skp is SK_pi
// for the initiator's AUTH and SK_pr for the responder's.
func pskAuth(p PRF, psk, realMsg, peerNonce, skp []byte, id ID) []byte {
	return prf(p, prf(p, psk, []byte(keyPad)), signedOctets(p, realMsg, peerNonce, skp, id))
}

// signedOctets is what AUTH covers, for a PSK and a signature alike (RFC
// 7296 section 2.15): RealMessage | NonceOfPeer | prf(SK_p, IDPayloadBody).
func signedOctets(p PRF, realMsg, peerNonce, skp []byte, id ID) []byte {
	maced := prf(p, skp, id.body())
	b := make([]byte, 0, len(realMsg)+len(peerNonce)+len(maced))
	return append(append(append(b, realMsg...), peerNonce...), maced...)
}
