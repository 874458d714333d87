package seqstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDir is where the daemon keeps its state unless configured
// otherwise.
const DefaultDir = "/var/lib/peregrine"

// FileName is the state file's name in the directory.
const FileName = "esp-sequences"

// DefaultBlock is how many sequence numbers one write reserves (doc.go
// says why).
const DefaultBlock = 1 << 20

// retryEvery is how often a failed write is tried again.
const retryEvery = time.Second

// Store keeps the sequence marks of manually keyed outbound SAs in one
// directory. Its methods are safe for concurrent use. It touches the disk
// only from the first Attach on, so a daemon with no manual SA never
// needs the directory.
type Store struct {
	log   *slog.Logger
	dir   string
	path  string
	block uint64
	kick  chan struct{} // a reservation wants more (buffered, 1)
	stop  chan struct{}
	wg    sync.WaitGroup

	mu struct {
		sync.Mutex
		loaded bool
		st     *fileState
		// unreadable is why the file on disk could not be read; it is
		// moved aside at the next write.
		unreadable error
		live       map[fingerprint]*Reservation
		// lock is the directory's lock file, held while the store is
		// open; lockErr is why it could not be taken (lock.go).
		lock    *os.File
		lockErr error
		// usedBefore: the lock file was there before this store took it,
		// so a daemon has used the directory, and its first Attach wrote
		// the state file; a missing file is then a lost one.
		usedBefore bool
		writing    bool // the writer goroutine runs
		closed     bool
		failing    bool // the last write failed (log once per episode)
	}
}

// Options adjust a Store; the zero value is the default.
type Options struct {
	// Block is how many sequence numbers one write reserves; 0 means
	// DefaultBlock. Tests use small blocks.
	Block uint64
}

// Open returns a Store for dir ("" means DefaultDir). It reads nothing
// yet: the first Attach does.
func Open(dir string, log *slog.Logger, opts Options) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		dir = DefaultDir
	}
	s := &Store{
		log: log, dir: dir, path: filepath.Join(dir, FileName),
		block: opts.Block, kick: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	if s.block == 0 {
		s.block = DefaultBlock
	}
	s.mu.live = map[fingerprint]*Reservation{}
	return s
}

// Path is the state file.
func (s *Store) Path() string { return s.path }

// Sequenced is an outbound SA whose sequence numbers a Store reserves:
// *esp.SA and *ah.SA. Keys are told apart by their fingerprint alone, so
// an ESP and an AH SA share the file, each under its own key.
type Sequenced interface {
	// ESN reports 64-bit sequence numbers (else 32).
	ESN() bool
	// LastSeq is the last number the SA sealed with.
	LastSeq() uint64
	// NeedsRekey reports the SA past its soft limit.
	NeedsRekey() bool
	// Reserve and Extend bound Seal by what the Store persisted
	// (esp.SA.Reserve).
	Reserve(last, ceiling, refillAt uint64, refill func()) error
	Extend(ceiling, refillAt uint64)
}

// Tunnel names the SA being attached, for the file and the errors.
type Tunnel struct {
	Remote netip.Addr
	SPI    uint32
	// Key is the SA's key material; only its fingerprint is kept.
	Key []byte
	// Reset starts the SA at 1 when its mark is unknown because the state
	// file was unreadable (the configuration's reset-sequence; doc.go).
	Reset bool
}

func (t Tunnel) String() string { return fmt.Sprintf("%s spi 0x%08x", t.Remote, t.SPI) }

// Reservation is an SA's claim on its key's mark. Release it when the SA
// is no longer used.
type Reservation struct {
	s       *Store
	fp      fingerprint
	t       Tunnel // Key cleared
	sa      Sequenced
	limit   uint64
	pending atomic.Bool // Seal asked for more; the writer has not yet answered
	warned  bool        // the rotate-the-key warning was logged; guarded by s.mu
}

// LostError is Attach's error when the state file could not be read, so
// that nothing is known about the SA's key: the tunnel stays closed.
type LostError struct {
	Tunnel Tunnel
	Path   string
	Err    error // why the file could not be read
}

func (e *LostError) Error() string {
	return fmt.Sprintf("seqstore: tunnel %s: sequence state %s is unreadable (%v), so this manual key may have sealed "+
		"numbers that starting at 1 would reuse (nonce reuse): the tunnel stays closed until its key is rotated "+
		"and reset-sequence is set, or reset-sequence is set to accept the risk", e.Tunnel, e.Path, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// ErrKeyInUse: another live SA has the same key. Two SAs counting from the
// same mark under one key would seal with the same nonces.
var ErrKeyInUse = errors.New("seqstore: the same key is in use on another tunnel")

// ErrKeyUsedUp: the key's mark is at the end of the SA's sequence space:
// it cannot seal another packet. Rotate the key.
var ErrKeyUsedUp = errors.New("seqstore: the key's sequence numbers are used up: rotate the key")

// Attach reserves sequence numbers for sa, a new outbound SA of tunnel t,
// above its key's mark, writes the new mark to disk and only then lets
// sa use them (Sequenced.Reserve). sa must not have sealed anything or be
// shared yet. On error sa must not be used.
func (s *Store) Attach(sa Sequenced, t Tunnel) (*Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, errors.New("seqstore: Attach after Close")
	}
	if err := s.lockDir(); err != nil {
		return nil, fmt.Errorf("seqstore: tunnel %s: %w", t, err)
	}
	s.load()
	st := s.mu.st
	fp := fingerprintOf(&st.salt, t.Key)
	t.Key = nil
	if other := s.mu.live[fp]; other != nil {
		return nil, fmt.Errorf("tunnel %s: %w: tunnel %s has it too", t, ErrKeyInUse, other.t)
	}
	limit := uint64(1<<32 - 1)
	if sa.ESN() {
		limit = 1<<64 - 1
	}
	prev := st.entries[fp]
	var start uint64
	switch {
	case prev != nil:
		start = prev.mark
	case st.lost && !t.Reset:
		cause := s.mu.unreadable
		if cause == nil {
			cause = errors.New("an earlier copy was unreadable and this key is not in the new one")
		}
		return nil, &LostError{Tunnel: t, Path: s.path, Err: cause}
	case st.lost:
		s.log.Warn("reset-sequence: starting a manual SA at 1 although its sequence state is lost; "+
			"if this key sealed before, nonces repeat", "tunnel", t.String(), "file", s.path)
	}
	// An SA that already sealed under this key (the same key carried over
	// from an SA that was not persisted) continues above what it used.
	start = max(start, sa.LastSeq())
	if start >= limit {
		return nil, fmt.Errorf("tunnel %s: %w", t, ErrKeyUsedUp)
	}
	mark := s.next(start, limit)
	e := &entry{fp: fp, mark: mark, remote: t.Remote, spi: t.SPI}
	st.entries[fp] = e
	if err := s.write(); err != nil {
		if prev != nil {
			st.entries[fp] = prev
		} else {
			delete(st.entries, fp)
		}
		return nil, fmt.Errorf("seqstore: tunnel %s: reserving sequence numbers: %w", t, err)
	}
	r := &Reservation{s: s, fp: fp, t: t, sa: sa, limit: limit}
	if err := sa.Reserve(start, mark, s.refillAt(start, mark), r.refill); err != nil {
		return nil, fmt.Errorf("seqstore: tunnel %s: %w", t, err)
	}
	s.mu.live[fp] = r
	if !s.mu.writing {
		s.mu.writing = true
		s.wg.Add(1)
		go s.writer()
	}
	s.log.Info("manual SA continues above its persisted sequence", "tunnel", t.String(), "from", start+1, "reserved-to", mark)
	return r, nil
}

// next is the mark one block above from, within limit.
func (s *Store) next(from, limit uint64) uint64 {
	if limit-from < s.block {
		return limit
	}
	return from + s.block
}

// refillAt is the number from which an SA reserved up to mark (above
// from) asks for more: half way through its block.
func (s *Store) refillAt(from, mark uint64) uint64 { return from + (mark-from)/2 + 1 }

// refill is called by Seal, on the packet path: it only signals.
func (r *Reservation) refill() {
	if r.pending.CompareAndSwap(false, true) {
		select {
		case r.s.kick <- struct{}{}:
		default:
		}
	}
}

// Release ends r: its SA is no longer used. The key's mark stays in the
// file, so the key continues above it if it comes back.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.live[r.fp] == r {
		delete(s.mu.live, r.fp)
	}
}

// errMissing: the state file is gone from a directory a daemon has used.
var errMissing = errors.New("the state file is missing")

// load reads the file once. A missing file in a directory no daemon has
// used is a first start; one that cannot be read, or is missing where one
// has, leaves a lost, empty state (doc.go).
func (s *Store) load() {
	if s.mu.loaded {
		return
	}
	s.mu.loaded = true
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) && s.mu.usedBefore {
		err = fmt.Errorf("%w: the directory's %s shows a daemon used it before, and its first manual key wrote this file", errMissing, LockName)
	}
	var st *fileState
	if err == nil {
		st, err = parse(data)
	}
	switch {
	case err == nil:
		s.mu.st = st
		return
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info("no ESP sequence state: a first start, every manual key starts at 1", "file", s.path)
		s.mu.st = &fileState{entries: map[fingerprint]*entry{}}
	default:
		s.log.Error("ESP sequence state is unreadable: manual tunnels stay closed until their keys are rotated "+
			"with reset-sequence set", "file", s.path, "err", err)
		s.mu.unreadable = err
		s.mu.st = &fileState{lost: true, entries: map[fingerprint]*entry{}}
	}
	if _, err := rand.Read(s.mu.st.salt[:]); err != nil {
		panic("seqstore: no randomness: " + err.Error()) // crypto/rand does not fail on Linux
	}
}

// Close stops the writer. Live SAs keep their reserved numbers and stop
// at them; the file keeps every mark.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.lock != nil {
		return s.mu.lock.Close() // releases the flock
	}
	return nil
}

// fingerprintLabel separates this use of HMAC from any other.
const fingerprintLabel = "peregrine esp-sequences key fingerprint\x00"

// fingerprintOf is HMAC-SHA256(salt, label || key), truncated (doc.go).
func fingerprintOf(salt *[16]byte, key []byte) fingerprint {
	m := hmac.New(sha256.New, salt[:])
	m.Write([]byte(fingerprintLabel))
	m.Write(key)
	var fp fingerprint
	copy(fp[:], m.Sum(nil))
	return fp
}
