package ike

import (
	"crypto/ecdh"
	"errors"
	"io"
	"math/big"
)

// ErrBadKE is a peer's public value that is not a valid element of the
// group: wrong length, not on the curve, out of range, or giving the
// all-zero X25519 result. The exchange fails with INVALID_SYNTAX.
var ErrBadKE = errors.New("ike: invalid key exchange data")

// keyShare is one side's ephemeral Diffie-Hellman key.
type keyShare interface {
	// public is the Key Exchange Data to send.
	public() []byte
	// shared computes g^ir from the peer's Key Exchange Data, encoded as
	// RFC 7296 section 2.14 and the group's RFC say.
	shared(peer []byte) ([]byte, error)
}

// newKeyShare makes an ephemeral key in group g from rand.
func newKeyShare(g DHGroup, rand io.Reader) (keyShare, error) {
	switch g {
	case DHCurve25519:
		k, err := ecdh.X25519().GenerateKey(rand)
		if err != nil {
			return nil, err
		}
		return ecdhShare{k}, nil
	case DHECP256:
		k, err := ecdh.P256().GenerateKey(rand)
		if err != nil {
			return nil, err
		}
		return ecdhShare{k}, nil
	case DHModp2048:
		return newModpShare(rand)
	}
	return nil, errors.New("ike: unsupported DH group " + g.String())
}

// ecdhShare covers group 31 (RFC 8031: the 32-byte u-coordinate both ways)
// and group 19 (RFC 5903 section 7: x || y without the 0x04 point-format
// byte; the shared secret is x alone, section 9 as corrected).
type ecdhShare struct{ k *ecdh.PrivateKey }

func (s ecdhShare) public() []byte {
	p := s.k.PublicKey().Bytes()
	if s.k.Curve() == ecdh.P256() {
		return p[1:]
	}
	return p
}

func (s ecdhShare) shared(peer []byte) ([]byte, error) {
	if s.k.Curve() == ecdh.P256() {
		if len(peer) != 64 {
			return nil, ErrBadKE
		}
		peer = append([]byte{4}, peer...)
	}
	pub, err := s.k.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, ErrBadKE
	}
	z, err := s.k.ECDH(pub) // rejects the all-zero X25519 output
	if err != nil {
		return nil, ErrBadKE
	}
	return z, nil
}

// modp2048P is the 2048-bit MODP group's prime, RFC 3526 section 3:
// 2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }, generator 2.
var modp2048P, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
		"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
		"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
		"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"+
		"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
		"15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)

const modp2048Len = 256

// modpShare is a group-14 key. Values travel as big-endian integers
// left-padded with zeros to the modulus length (RFC 7296 section 2.14).
type modpShare struct{ x, gx *big.Int }

func newModpShare(rand io.Reader) (modpShare, error) {
	// A 512-bit exponent is well above the 2 x 112-bit strength RFC 3526
	// section 8 asks of this group, at a quarter of the cost of a full one.
	b := make([]byte, 64)
	if _, err := io.ReadFull(rand, b); err != nil {
		return modpShare{}, err
	}
	x := new(big.Int).SetBytes(b)
	x.SetBit(x, 511, 1)
	return modpShare{x: x, gx: new(big.Int).Exp(big.NewInt(2), x, modp2048P)}, nil
}

func (s modpShare) public() []byte { return s.gx.FillBytes(make([]byte, modp2048Len)) }

func (s modpShare) shared(peer []byte) ([]byte, error) {
	if len(peer) != modp2048Len {
		return nil, ErrBadKE
	}
	y := new(big.Int).SetBytes(peer)
	// 1 < y < p-1 (RFC 6989 section 2.1).
	pm1 := new(big.Int).Sub(modp2048P, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pm1) >= 0 {
		return nil, ErrBadKE
	}
	return new(big.Int).Exp(y, s.x, modp2048P).FillBytes(make([]byte, modp2048Len)), nil
}
