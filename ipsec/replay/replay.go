// Package replay implements the anti-replay sliding window of RFC 4303
// section 3.4.3 with the ring-of-blocks bitmap of RFC 6479: the window is a
// ring of 64-bit blocks indexed by sequence number, so moving the window
// forward clears whole blocks instead of shifting the bitmap.
//
// The window works on 64-bit sequence numbers (the extended sequence numbers
// of RFC 4303 section 2.2.1). A receiver without ESN passes the 32-bit number
// widened to 64 bits.
//
// Sequence number 0 is never valid: RFC 4303 section 3.3.3 starts the sender's
// counter at 0 and increments it before each packet, so the first packet sent
// carries 1, with or without ESN (with ESN a packet may carry 0 in its low 32
// bits, but its full 64-bit number is never 0). Check and Update report
// ErrTooOld for 0, as for a number below the window.
//
// # Concurrency
//
// A Window locks itself: every method is safe for concurrent use. Check takes
// no lock (it reads the ring with atomic loads, so it is cheap on the packet
// path and may run alongside Update); Update and Init serialize on a mutex.
// Because Check does not reserve the number, two goroutines opening the same
// packet can both pass Check; the loser's Update reports ErrReplayed, which
// is why Update re-checks. Check is advisory in the same way when it races
// with an Update that moves the window far ahead; Update's answer is final. The intended use (RFC 4303 section 3.4.3): Check
// before decryption to drop replays cheaply, then Update only after the
// packet authenticated, so that forged packets never move the window.
package replay

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Window sizes, in sequence numbers.
const (
	// MinSize is the smallest window Init accepts: RFC 4303 section 3.4.3
	// requires at least 32 and recommends 64.
	MinSize = 64
	// MaxSize is the largest window Init accepts.
	MaxSize = 4096
	// DefaultSize is the window of a zero Window and of Init(0).
	DefaultSize = 1024
)

const (
	blockBits = 64
	// ringBlocks is fixed and large enough for MaxSize plus the block that
	// is partly ahead of the top (RFC 6479 keeps one spare block), so any
	// size from MinSize to MaxSize is used exactly, with no rounding.
	ringBlocks = 128
	ringMask   = ringBlocks - 1
)

// ErrReplayed means the sequence number is inside the window and was already
// accepted: drop the packet and count it as a replay.
var ErrReplayed = errors.New("replay: sequence number already seen")

// ErrTooOld means the sequence number is 0 or lies below the window (more
// than the window size behind the highest accepted number): drop the packet.
// It may be a very late packet rather than an attack; count it separately.
var ErrTooOld = errors.New("replay: sequence number below the window")

// Window is an anti-replay window. Its zero value is an empty window of
// DefaultSize, ready to use. A Window must not be copied after first use.
type Window struct {
	// size is the window width in sequence numbers; 0 means DefaultSize.
	// It is written by Init under mu and read atomically by Check.
	size atomic.Uint64
	// top is the highest sequence number accepted so far (0: none yet).
	top atomic.Uint64
	// ring holds one bit per sequence number: bit (seq % 64) of block
	// (seq / 64) % ringBlocks. Blocks are read atomically by Check and
	// written only under mu.
	ring [ringBlocks]atomic.Uint64

	mu sync.Mutex // serializes Init and Update
	// accepted is what UpdateCounted accepted: written and read under mu.
	accepted struct{ packets, bytes uint64 }
}

// Init empties the window and sets its size, which must be 0 (DefaultSize)
// or between MinSize and MaxSize. The size is used exactly, not rounded.
// Init is safe to call concurrently with Check and Update; a packet in
// flight meanwhile is judged by the old state or the new one.
func (w *Window) Init(size int) error {
	if size == 0 {
		size = DefaultSize
	}
	if size < MinSize || size > MaxSize {
		return fmt.Errorf("replay: window size %d out of range [%d, %d]", size, MinSize, MaxSize)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.size.Store(uint64(size))
	w.top.Store(0)
	for i := range w.ring {
		// Most blocks are already zero; loads are cheaper than
		// atomic stores.
		if w.ring[i].Load() != 0 {
			w.ring[i].Store(0)
		}
	}
	return nil
}

// Size returns the window width in sequence numbers.
func (w *Window) Size() int {
	return int(w.width())
}

// Top returns the highest sequence number accepted so far, or 0 if none.
// ESP uses it to infer the high 32 bits of an extended sequence number
// (RFC 4303 appendix A).
func (w *Window) Top() uint64 {
	return w.top.Load()
}

func (w *Window) width() uint64 {
	if s := w.size.Load(); s != 0 {
		return s
	}
	return DefaultSize
}

// Check reports whether seq would be accepted, without recording it: nil,
// ErrReplayed or ErrTooOld. Call it before spending time on decryption.
func (w *Window) Check(seq uint64) error {
	return w.check(seq, w.top.Load())
}

func (w *Window) check(seq, top uint64) error {
	if seq == 0 {
		return ErrTooOld
	}
	if seq > top {
		return nil
	}
	if top-seq >= w.width() {
		return ErrTooOld
	}
	block := w.ring[(seq/blockBits)&ringMask].Load()
	if block&(1<<(seq%blockBits)) != 0 {
		return ErrReplayed
	}
	return nil
}

// Update records seq as accepted, moving the window forward if seq is above
// it. It checks again first and returns ErrReplayed or ErrTooOld without
// changing anything if seq is no longer acceptable, for example because a
// concurrent Update recorded the same number. Call it only after the packet
// carrying seq authenticated.
func (w *Window) Update(seq uint64) error {
	w.mu.Lock()
	err := w.update(seq)
	w.mu.Unlock()
	return err
}

// UpdateCounted is Update that, when it records seq, also adds a packet
// of n bytes to the window's tally (Accepted). A receiver counting there,
// under the lock Update takes anyway, spares its packet path two atomic
// additions, each about as dear as the lock. Init leaves the tally alone.
func (w *Window) UpdateCounted(seq, n uint64) error {
	w.mu.Lock()
	err := w.update(seq)
	if err == nil {
		w.accepted.packets++
		w.accepted.bytes += n
	}
	w.mu.Unlock()
	return err
}

// Accepted returns how many packets, and bytes, UpdateCounted recorded.
func (w *Window) Accepted() (packets, bytes uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.accepted.packets, w.accepted.bytes
}

// update is Update's work, under w.mu. It cannot panic, so its callers
// unlock without a defer.
func (w *Window) update(seq uint64) error {
	top := w.top.Load()
	if err := w.check(seq, top); err != nil {
		return err
	}
	if seq > top {
		// Clear the blocks the top moves into: they still hold bits of
		// numbers ringBlocks*64 lower, all far below the new window.
		from, to := top/blockBits, seq/blockBits
		n := min(to-from, ringBlocks)
		for i := uint64(1); i <= n; i++ {
			w.ring[(from+i)&ringMask].Store(0)
		}
		w.top.Store(seq)
	}
	b := &w.ring[(seq/blockBits)&ringMask]
	b.Store(b.Load() | 1<<(seq%blockBits))
	return nil
}

// InferESN returns the full 64-bit sequence number of a received packet
// that carries only the low 32 bits, lo, with extended sequence numbers
// (RFC 4303 appendix A.2.2, which RFC 4302 section 3.4.3 also uses for
// AH): with T the highest number accepted (Th, Tl its halves) and W the
// window, pick the high half that puts the number in or above the window.
// ok is false when the number would lie below 0 or above 2^64-1, which no
// sender can have used.
func (w *Window) InferESN(lo uint32) (seq uint64, ok bool) {
	top := w.Top()
	th, tl := uint32(top>>32), uint32(top)
	ws := uint32(w.Size())
	hi := th
	if tl >= ws-1 {
		// Case A: the window lies in one 2^32 subspace. A number
		// below its bottom belongs to the next subspace.
		if lo < tl-ws+1 {
			if th == 1<<32-1 {
				return 0, false
			}
			hi = th + 1
		}
	} else if lo >= tl-ws+1 {
		// Case B: the window straddles a subspace boundary (tl-w+1
		// wraps). A number at or above its bottom belongs to the
		// previous subspace; one below it, to this one.
		if th == 0 {
			return 0, false
		}
		hi = th - 1
	}
	return uint64(hi)<<32 | uint64(lo), true
}
