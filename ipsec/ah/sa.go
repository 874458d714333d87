package ah

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"

	"github.com/peregrine-net/peregrine/ipsec/replay"
	"github.com/peregrine-net/peregrine/ipsec/seqspace"
)

// Config describes one AH security association.
type Config struct {
	// SPI identifies the SA. 0 to 255 are reserved (RFC 4302 section 2.4).
	SPI uint32
	// Integ is the integrity transform.
	Integ Integ
	// Key is the key material, Integ.KeyLen() bytes. NewSA copies what it
	// needs; the caller may wipe Key afterwards.
	Key []byte
	// ESN turns on 64-bit extended sequence numbers (RFC 4302 2.5.1):
	// the high 32 bits enter the ICV but are not sent.
	ESN bool
	// ManualKey says the key was configured rather than negotiated. A
	// manually keyed AES-GMAC SA seals nothing until Reserve has placed
	// its sequence above every number the key may have used before (as
	// package ipsec/seqstore does): its IV is the sequence number, and a
	// sender that restarts counting from 1 under the same key reuses GMAC
	// nonces, which gives the key's hash subkey away. Seal refuses it
	// with ErrNotReserved. HMAC-SHA-256-128 has no nonce; its peer's
	// anti-replay window still wants the sequence continued.
	ManualKey bool
	// ReplayWindow is the anti-replay window in packets: 0 for the
	// default (replay.DefaultSize), else replay.MinSize to replay.MaxSize.
	ReplayWindow int
	// RekeyAfter is the soft limit NeedsRekey reports; 0 picks 7/8 of the
	// sequence space.
	RekeyAfter uint64
	// InitialSeq is for tests: the sequence number taken as already sent.
	InitialSeq uint64
}

// String describes the configuration for logs. It leaves Key out.
func (c Config) String() string {
	return fmt.Sprintf("ah spi 0x%08x %s esn=%v window=%d", c.SPI, c.Integ, c.ESN, c.ReplayWindow)
}

// LogValue keeps Key out of structured logs too.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// SA is one AH security association: key, outbound sequence counter and
// inbound anti-replay window. It is safe for concurrent use: Seal takes
// its sequence number with a compare-and-swap, Open uses the self-locking
// replay.Window, and the per-call state comes from a sync.Pool.
type SA struct {
	spi   uint32
	integ Integ
	esn   bool
	gmac  cipher.AEAD // AES-GMAC suites
	salt  [SaltLen]byte
	hmacK []byte // HMAC key
	// work hands out *work: an HMAC carries state through a call and
	// allocates when made, and GMAC needs a nonce and a tag that must
	// not live on the stack (the AEAD interface makes them escape).
	work    sync.Pool
	rekeyAt uint64
	// mustReserve: a manually keyed GMAC SA seals nothing before Reserve
	// (Config.ManualKey).
	mustReserve bool
	// seq hands out Seal's sequence numbers, up to the sequence space's
	// limit and any reservation (Reserve); its hot word sits on its own
	// cache line.
	seq    seqspace.Counter
	sealed sealCounters

	_      cacheLinePad
	window replay.Window
	opened openCounters
}

// work is what one Seal or Open call works with.
type work struct {
	mac   hash.Hash
	sum   [32]byte            // HMAC output or GMAC tag
	nonce [SaltLen + 8]byte   // GMAC nonce: salt || IV
	saved [IPv6HeaderLen]byte // the IP header, while its mutable fields are zeroed
	icv   [ICVLen]byte        // the received ICV, while its field is zeroed
	tail  [ESNTailroom]byte   // the bytes after the packet (GMAC with ESN)
	hi    [4]byte             // the ESN high half, for the HMAC
}

// NewSA checks cfg and builds the SA. Its errors name the Config field.
func NewSA(cfg Config) (*SA, error) {
	if !cfg.Integ.IsValid() {
		return nil, fmt.Errorf("ah: Config.Integ: invalid transform %d", uint8(cfg.Integ))
	}
	if cfg.SPI < 256 {
		return nil, fmt.Errorf("ah: Config.SPI: %d is reserved (RFC 4302 section 2.4)", cfg.SPI)
	}
	if want := cfg.Integ.KeyLen(); len(cfg.Key) != want {
		// Never print the key itself.
		return nil, fmt.Errorf("ah: Config.Key: %s takes %d bytes, got %d", cfg.Integ, want, len(cfg.Key))
	}
	sa := &SA{spi: cfg.SPI, integ: cfg.Integ, esn: cfg.ESN,
		mustReserve: cfg.ManualKey && cfg.Integ.IsGMAC()}
	limit := uint64(1<<32 - 1) // the highest sequence number Seal may use
	if cfg.ESN {
		limit = 1<<64 - 1
	}
	if err := sa.window.Init(cfg.ReplayWindow); err != nil {
		return nil, fmt.Errorf("ah: Config.ReplayWindow: %w", err)
	}
	sa.rekeyAt = cfg.RekeyAfter
	if sa.rekeyAt == 0 {
		sa.rekeyAt = limit - limit/8
	}
	if sa.rekeyAt > limit {
		return nil, fmt.Errorf("ah: Config.RekeyAfter: %d exceeds the sequence space (%d)", cfg.RekeyAfter, limit)
	}
	if cfg.InitialSeq > limit {
		return nil, fmt.Errorf("ah: Config.InitialSeq: %d exceeds the sequence space (%d)", cfg.InitialSeq, limit)
	}
	sa.seq.Init(cfg.InitialSeq, limit)
	if cfg.Integ.IsGMAC() {
		k := len(cfg.Key) - SaltLen
		g, err := newGMAC(cfg.Key[:k])
		if err != nil {
			return nil, fmt.Errorf("ah: Config.Key: %w", err)
		}
		if g.NonceSize() != len(work{}.nonce) || g.Overhead() != ICVLen {
			return nil, errors.New("ah: AES-GCM with an unexpected nonce or tag size")
		}
		sa.gmac = g
		copy(sa.salt[:], cfg.Key[k:])
	} else {
		sa.hmacK = append([]byte(nil), cfg.Key...)
	}
	sa.work.New = func() any {
		w := &work{}
		if sa.hmacK != nil {
			w.mac = newHMAC(sa.hmacK)
		}
		return w
	}
	return sa, nil
}

// SPI returns the SA's SPI.
func (sa *SA) SPI() uint32 { return sa.spi }

// Integ returns the SA's transform.
func (sa *SA) Integ() Integ { return sa.integ }

// ESN reports whether the SA uses extended sequence numbers.
func (sa *SA) ESN() bool { return sa.esn }

// ReplayWindow returns the anti-replay window size in packets.
func (sa *SA) ReplayWindow() int { return sa.window.Size() }

// String names the SA for logs and show output, without key material. It
// says "ah": integrity only, the payload in the clear.
func (sa *SA) String() string {
	esn := ""
	if sa.esn {
		esn = " esn"
	}
	return fmt.Sprintf("ah spi 0x%08x %s%s (integrity only)", sa.spi, sa.integ, esn)
}

// LogValue names the SA in structured logs, without key material.
func (sa *SA) LogValue() slog.Value { return slog.StringValue(sa.String()) }

// LastSeq returns the last sequence number Seal used (0 before the first).
func (sa *SA) LastSeq() uint64 { return sa.seq.Last() }

// NeedsRekey reports whether Seal has used Config.RekeyAfter numbers.
func (sa *SA) NeedsRekey() bool { return sa.seq.Last() >= sa.rekeyAt }

// inferSeq returns the full sequence number of a received packet from its
// low 32 bits (RFC 4302 section 3.4.3 with ESN: RFC 4303 appendix A).
func (sa *SA) inferSeq(lo uint32) (uint64, bool) {
	if !sa.esn {
		return uint64(lo), true
	}
	return sa.window.InferESN(lo)
}

// putSeqHi writes the high 32 bits of seq into b.
func putSeqHi(b []byte, seq uint64) { binary.BigEndian.PutUint32(b, uint32(seq>>32)) }
