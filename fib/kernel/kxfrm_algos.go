package kernel

import (
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// xfrmAlgos fills in st's algorithms from an SA's cipher and key
// material, as `ip xfrm state add ... aead 'rfc4106(gcm(aes))' KEY 128`
// or `... enc 'cbc(aes)' KEY auth-trunc 'hmac(sha256)' KEY 128` would: the
// same transforms the userspace ESP engine implements, so the two ends
// of a tunnel may be one of each. Key material is laid out as package esp
// takes it (esp.Cipher.KeyLayout): an AEAD's key then its 4-byte salt,
// which is what the kernel's rfc4106 and rfc7539esp take too; a CBC
// suite's AES key then its HMAC key.
func xfrmAlgos(st *netlink.XfrmState, c esp.Cipher, key []byte) error {
	if len(key) != c.KeyLen() {
		return fmt.Errorf("%s takes %d bytes of key material, not %d", c, c.KeyLen(), len(key))
	}
	icvBits := c.ICVLen() * 8
	switch c {
	case esp.AES128GCM16, esp.AES256GCM16:
		st.Aead = &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: key, ICVLen: icvBits}
		return nil
	case esp.ChaCha20Poly1305:
		st.Aead = &netlink.XfrmStateAlgo{Name: "rfc7539esp(chacha20,poly1305)", Key: key, ICVLen: icvBits}
		return nil
	}
	// The CBC suites: HMAC-SHA-2 truncated to half its output, whose key
	// is the full output (RFC 4868), after the AES key.
	var hash string
	switch c.ICVLen() {
	case 16:
		hash = "hmac(sha256)"
	case 24:
		hash = "hmac(sha384)"
	case 32:
		hash = "hmac(sha512)"
	default:
		return fmt.Errorf("%s has no kernel transform here", c)
	}
	aesLen := c.KeyLen() - 2*c.ICVLen()
	st.Crypt = &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: key[:aesLen]}
	st.Auth = &netlink.XfrmStateAlgo{Name: hash, Key: key[aesLen:], TruncateLen: icvBits}
	return nil
}
