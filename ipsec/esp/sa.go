package esp

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/peregrine-net/peregrine/ipsec/replay"
	"github.com/peregrine-net/peregrine/ipsec/seqspace"
)

// Config describes one security association.
type Config struct {
	// SPI identifies the SA. 0 to 255 are reserved (RFC 4303 section 2.1).
	SPI uint32
	// Cipher is the transform.
	Cipher Cipher
	// Key is the key material, Cipher.KeyLen() bytes: for an AEAD the
	// cipher key followed by the 4-byte salt (20, 36 or 36 bytes); for
	// AES-CBC the AES key (16 or 32 bytes) followed by the HMAC key (32,
	// 48 or 64). NewSA copies what it needs; the caller may wipe Key
	// afterwards.
	Key []byte
	// ESN turns on 64-bit extended sequence numbers (RFC 4303 2.2.1).
	ESN bool
	// ReplayWindow is the anti-replay window in packets: 0 for the
	// default (replay.DefaultSize, 1024), else replay.MinSize (64) to
	// replay.MaxSize (4096).
	ReplayWindow int
	// NoAntiReplay turns the anti-replay check off: an explicit opt-out
	// for a manually keyed peer whose sender starts counting at 1 again
	// when it restarts, which a receiver with the check on would drop as
	// replays until the count passed its old high-water mark (RFC 4303
	// section 3.4.3 leaves the check to the receiver; Linux's `ip xfrm
	// state` with replay-window 0). Peregrine's own manual senders
	// persist their sequence (Reserve, package ipsec/seqstore), so they
	// need no opt-out. Not with ESN, whose high bits the window infers.
	NoAntiReplay bool
	// RekeyAfter is the soft limit: NeedsRekey reports true once Seal has
	// used this many sequence numbers. 0 picks 7/8 of the hard limit
	// (2^32-1 without ESN, 2^64-1 with it).
	RekeyAfter uint64
	// InitialSeq is for tests: the sequence number taken as already sent,
	// so that the next Seal uses InitialSeq+1. Production code leaves it 0
	// (RFC 4303 section 3.3.3: the first packet carries 1).
	InitialSeq uint64
}

// String describes the configuration for logs. It leaves Key out.
func (c Config) String() string {
	return fmt.Sprintf("spi 0x%08x %s esn=%v window=%d", c.SPI, c.Cipher, c.ESN, c.ReplayWindow)
}

// LogValue keeps Key out of structured logs too.
func (c Config) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// SA is one ESP security association: the key, the outbound sequence
// counter and the inbound anti-replay window. One SA normally carries one
// direction, but Seal and Open do not interfere with each other. An SA is
// safe for concurrent use by many goroutines; see the package documentation.
type SA struct {
	spi    uint32
	cipher Cipher
	esn    bool
	aead   cipher.AEAD // the AEAD suites
	salt   uint32      // the 4 salt bytes, big-endian
	cbc    *cbcSuite   // the AES-CBC + HMAC suites
	// The suite's sizes (Cipher.IVLen, ICVLen, blockLen-1), kept at
	// hand for the packet path.
	ivLen, icvLen, blockMask int
	rekeyAt                  uint64
	// seqBase is the sequence number before the SA's first Seal
	// (Config.InitialSeq, or Reserve's last): Seal's packet count is
	// seq - seqBase.
	seqBase uint64
	// seq hands out Seal's sequence numbers, up to the sequence space's
	// limit and any reservation (Reserve); its hot word sits on its own
	// cache line.
	seq    seqspace.Counter
	sealed sealCounters

	_      cacheLinePad
	window replay.Window
	// noReplay skips the window (Config.NoAntiReplay).
	noReplay bool
	opened   openCounters
}

// NewSA checks cfg and builds the SA. Its errors name the Config field.
func NewSA(cfg Config) (*SA, error) {
	if !cfg.Cipher.IsValid() {
		return nil, fmt.Errorf("esp: Config.Cipher: invalid cipher %d", uint8(cfg.Cipher))
	}
	if cfg.SPI < 256 {
		return nil, fmt.Errorf("esp: Config.SPI: %d is reserved (RFC 4303 section 2.1)", cfg.SPI)
	}
	if want := cfg.Cipher.KeyLen(); len(cfg.Key) != want {
		// Never print the key itself.
		return nil, fmt.Errorf("esp: Config.Key: %s takes %d bytes (%s), got %d",
			cfg.Cipher, want, cfg.Cipher.KeyLayout(), len(cfg.Key))
	}
	sa := &SA{spi: cfg.SPI, cipher: cfg.Cipher, esn: cfg.ESN,
		ivLen: cfg.Cipher.IVLen(), icvLen: cfg.Cipher.ICVLen(), blockMask: cfg.Cipher.blockLen() - 1}
	limit := uint64(1<<32 - 1) // the highest sequence number Seal may use
	if cfg.ESN {
		limit = 1<<64 - 1
	}
	if cfg.NoAntiReplay && cfg.ESN {
		return nil, errors.New("esp: Config.NoAntiReplay: not with ESN, whose high bits the anti-replay window infers")
	}
	sa.noReplay = cfg.NoAntiReplay
	if err := sa.window.Init(cfg.ReplayWindow); err != nil {
		return nil, fmt.Errorf("esp: Config.ReplayWindow: %w", err)
	}
	sa.rekeyAt = cfg.RekeyAfter
	if sa.rekeyAt == 0 {
		sa.rekeyAt = limit - limit/8
	}
	if sa.rekeyAt > limit {
		return nil, fmt.Errorf("esp: Config.RekeyAfter: %d exceeds the sequence space (%d)", cfg.RekeyAfter, limit)
	}
	if cfg.InitialSeq > limit {
		return nil, fmt.Errorf("esp: Config.InitialSeq: %d exceeds the sequence space (%d)", cfg.InitialSeq, limit)
	}
	sa.seq.Init(cfg.InitialSeq, limit)
	sa.seqBase = cfg.InitialSeq
	if !cfg.Cipher.IsAEAD() {
		cbc, err := newCBCSuite(cfg.Cipher, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("esp: Config.Key: %w", err)
		}
		sa.cbc = cbc
		return sa, nil
	}
	keyLen := len(cfg.Key) - SaltLen
	aead, err := cfg.Cipher.newAEAD(cfg.Key[:keyLen])
	if err != nil {
		return nil, fmt.Errorf("esp: Config.Key: %w", err)
	}
	if aead.NonceSize() != SaltLen+IVLen || aead.Overhead() != ICVLen {
		return nil, fmt.Errorf("esp: %s: unexpected AEAD nonce %d / tag %d", cfg.Cipher, aead.NonceSize(), aead.Overhead())
	}
	sa.aead = aead
	sa.salt = binary.BigEndian.Uint32(cfg.Key[keyLen:])
	return sa, nil
}

// SPI returns the SA's SPI.
func (sa *SA) SPI() uint32 { return sa.spi }

// Cipher returns the SA's transform.
func (sa *SA) Cipher() Cipher { return sa.cipher }

// ESN reports whether the SA uses extended sequence numbers.
func (sa *SA) ESN() bool { return sa.esn }

// ReplayWindow returns the anti-replay window size in packets.
func (sa *SA) ReplayWindow() int { return sa.window.Size() }

// String names the SA for logs, without key material.
func (sa *SA) String() string {
	esn := ""
	if sa.esn {
		esn = " esn"
	}
	return fmt.Sprintf("spi 0x%08x %s%s", sa.spi, sa.cipher, esn)
}

// LogValue names the SA in structured logs, without key material.
func (sa *SA) LogValue() slog.Value {
	return slog.StringValue(sa.String())
}
