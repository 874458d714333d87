// Package replay implements the anti-replay sliding window of RFC 4303
// section 3.4.3 with the ring-of-blocks bitmap of RFC 6479: the window is a
// ring of blocks of sequence numbers, so moving the window forward recycles
// whole blocks instead of shifting the bitmap.
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
// A Window is safe for concurrent use, and on the packet path it takes no
// lock. The intended use (RFC 4303 section 3.4.3): Check before decryption
// to drop replays cheaply, then Update (or UpdateCounted) only after the
// packet authenticated, so that forged packets never move the window.
//
// Each ring slot is one 64-bit word holding a block's bitmap, a tag naming
// the block, and the payload bytes UpdateCounted recorded in it (see slot
// layout below). Recording a number inside the blocks the window already
// covers is one compare-and-swap on its slot: of two goroutines recording
// the same number, exactly one swaps the bit in; the other sees it set and
// gets ErrReplayed. Moving the window into a new block (once per 32 numbers
// of in-order traffic) takes a mutex, and is bracketed by a version counter
// that the lock-free paths read before and after their loads: a reader that
// sees a move in progress, or one that finished meanwhile, reads again or
// takes the mutex itself. So every decision is made on a consistent view,
// and every block a number lands in is the block its tag names.
//
// Check is advisory: it records nothing, so two goroutines opening the same
// packet can both pass it (the loser's Update reports ErrReplayed), and one
// that races with a move of the window may pass a number Update then
// refuses. Update's answer is final. Under concurrency the window is judged
// at some instant between the call and its return: a number that was inside
// the window when Update read it may be recorded after another goroutine
// moved the window past it, but never twice.
package replay

import (
	"errors"
	"fmt"
	"math/bits"
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

// The ring: ringBlocks slots of blockBits sequence numbers. 256 blocks of
// 32 cover 8192 numbers, more than MaxSize plus the block partly ahead of
// the top, so every size from MinSize to MaxSize is used exactly.
const (
	blockBits  = 32
	ringBlocks = 256
	ringMask   = ringBlocks - 1
	// ringShift is log2(ringBlocks): block b's generation is b>>ringShift.
	ringShift = 8
)

// Slot layout, low bit first:
//
//	bits  0-31  bitmap: bit i set = number block*32+i was recorded
//	bits 32-52  bytes UpdateCounted recorded for the block (up to 32 x 65535)
//	bits 53-63  tag: the low 11 bits of the block's generation (block>>8)
//
// The tag lets a swap fail, and a reader notice, when a slot was recycled
// for a later block between a load and the swap. Tags repeat every 2^24
// numbers, so one case is left: a recorder's swap on an empty slot that a
// jump of a multiple of 2^24 recycled, empty, meanwhile. The number is
// then recorded once (it is below the new window, so it cannot be
// recorded again) but its bit stands for the number 2^24*k above it,
// which would be refused as a replay: a lost packet, never a second
// acceptance.
const (
	bitmapMask = 1<<blockBits - 1
	bytesShift = blockBits
	bytesMask  = 1<<21 - 1
	tagShift   = 53
	tagMask    = 1<<11 - 1
	// maxSlotBytes is the most UpdateCounted adds to a slot for one
	// number; 32 of them fit its 21 bits. A larger n is tallied under
	// the mutex instead.
	maxSlotBytes = 1<<16 - 1
	// fastTries bounds the lock-free attempts before UpdateCounted takes
	// the mutex, so a goroutine that keeps losing races still finishes.
	fastTries = 4
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
	// version is even when the window is at rest and odd while the
	// mutex holder moves it (Init, or a number above the top block).
	version atomic.Uint64
	// size is the window width in sequence numbers; 0 means DefaultSize.
	size atomic.Uint64
	// topBlock is the block of the highest number recorded (top / 32).
	// The top itself is the highest bit set in that block's slot. Every
	// block from topBlock-255 to topBlock owns its slot (its tag is
	// there) while the window is at rest.
	topBlock atomic.Uint64
	_        [40]byte // keep the slots, swapped per packet, off this line
	ring     [ringBlocks]atomic.Uint64

	// mu serializes the moves of the window and guards retired.
	mu sync.Mutex
	// retired counts what slots held when they were recycled, so that
	// Accepted is retired plus what the slots hold now.
	retired struct{ packets, bytes uint64 }
}

// Init empties the window and sets its size, which must be 0 (DefaultSize)
// or between MinSize and MaxSize. The size is used exactly, not rounded.
// Init keeps the tally Accepted reports. It is safe to call concurrently
// with Check and Update; a packet in flight meanwhile is judged by the old
// state or the new one.
func (w *Window) Init(size int) error {
	if size == 0 {
		size = DefaultSize
	}
	if size < MinSize || size > MaxSize {
		return fmt.Errorf("replay: window size %d out of range [%d, %d]", size, MinSize, MaxSize)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.version.Add(1)
	w.size.Store(uint64(size))
	for i := range w.ring {
		// Most slots are usually empty already; a load is cheaper
		// than a swap.
		if w.ring[i].Load() != 0 {
			w.recycle(&w.ring[i], 0)
		}
	}
	w.topBlock.Store(0)
	w.version.Add(1)
	return nil
}

// recycle replaces the slot's word with nw and tallies what it held.
// Callers hold w.mu; lock-free recorders may still swap bits into the
// slot meanwhile, so it loops until its own swap lands.
func (w *Window) recycle(slot *atomic.Uint64, nw uint64) {
	for {
		old := slot.Load()
		if slot.CompareAndSwap(old, nw) {
			w.retired.packets += uint64(bits.OnesCount32(uint32(old)))
			w.retired.bytes += old >> bytesShift & bytesMask
			return
		}
	}
}

// Size returns the window width in sequence numbers.
func (w *Window) Size() int {
	return int(w.width())
}

func (w *Window) width() uint64 {
	if s := w.size.Load(); s != 0 {
		return s
	}
	return DefaultSize
}

// Top returns the highest sequence number accepted so far, or 0 if none.
// ESP uses it to infer the high 32 bits of an extended sequence number
// (RFC 4303 appendix A).
func (w *Window) Top() uint64 {
	for range fastTries {
		v := w.version.Load()
		tb := w.topBlock.Load()
		top := topOf(tb, w.ring[tb&ringMask].Load())
		if v&1 == 0 && w.version.Load() == v {
			return top
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	tb := w.topBlock.Load()
	return topOf(tb, w.ring[tb&ringMask].Load())
}

// topOf returns the top given the top block and its slot: the highest
// number recorded in it (0 for an empty window).
func topOf(tb, slot uint64) uint64 {
	bm := uint32(slot)
	if bm == 0 {
		return 0 // only when nothing was recorded since Init
	}
	return tb*blockBits + uint64(bits.Len32(bm)) - 1
}

// tag is the tag of block b's slot.
func tag(b uint64) uint64 {
	return b >> ringShift & tagMask
}

// tooOld reports whether seq is 0 or below the window of top.
func (w *Window) tooOld(seq, top uint64) bool {
	return seq == 0 || (seq <= top && top-seq >= w.width())
}

// Check reports whether seq would be accepted, without recording it: nil,
// ErrReplayed or ErrTooOld. Call it before spending time on decryption.
// While another goroutine moves the window it may answer nil for a number
// Update then refuses.
func (w *Window) Check(seq uint64) error {
	blk := seq / blockBits
	for range fastTries {
		v := w.version.Load()
		tb := w.topBlock.Load()
		var err error
		switch {
		case blk > tb:
			// Above the top block: new.
		case seq == 0 || (blk < tb && w.tooOld(seq, topOf(tb, w.ring[tb&ringMask].Load()))):
			// A number in the top block is inside the window,
			// which is wider than a block: in-order traffic
			// needs no look at the top's slot.
			err = ErrTooOld
		case w.ring[blk&ringMask].Load()&(1<<(seq%blockBits)) != 0:
			err = ErrReplayed
		}
		if v&1 == 0 && w.version.Load() == v {
			return err
		}
	}
	return nil // advisory; Update decides
}

// Update records seq as accepted, moving the window forward if seq is above
// it. It checks again first and returns ErrReplayed or ErrTooOld without
// changing anything if seq is no longer acceptable, for example because a
// concurrent Update recorded the same number. Call it only after the packet
// carrying seq authenticated.
func (w *Window) Update(seq uint64) error {
	return w.UpdateCounted(seq, 0)
}

// UpdateCounted is Update that, when it records seq, also adds n bytes to
// the window's tally (Accepted). The bytes go into seq's slot with the same
// compare-and-swap that records the number, so a receiver counting here
// spares its packet path an atomic addition, about as dear as the swap.
func (w *Window) UpdateCounted(seq, n uint64) error {
	if n <= maxSlotBytes {
		blk := seq / blockBits
		bit := uint64(1) << (seq % blockBits)
		slot := &w.ring[blk&ringMask]
		for range fastTries {
			v := w.version.Load()
			tb := w.topBlock.Load()
			if v&1 != 0 || blk > tb {
				break // the window moves, or must: under the mutex
			}
			old := slot.Load()
			var err error
			switch {
			case seq == 0 || (blk < tb && w.tooOld(seq, topOf(tb, w.ring[tb&ringMask].Load()))):
				err = ErrTooOld // as in Check
			case old>>tagShift != tag(blk):
				continue // recycled since tb was read
			case old&bit != 0:
				err = ErrReplayed
			}
			if w.version.Load() != v {
				continue
			}
			if err != nil {
				return err
			}
			// The view was consistent: blk owns the slot. If the
			// slot changed since, the swap fails and we look again.
			if slot.CompareAndSwap(old, old|bit+n<<bytesShift) {
				return nil
			}
		}
	}
	w.mu.Lock()
	err := w.updateLocked(seq, n)
	w.mu.Unlock()
	return err
}

// updateLocked is UpdateCounted's slow path, under w.mu: the window is at
// rest (only mu's holder moves it), though lock-free recorders may still
// set bits. It cannot panic, so its caller unlocks without a defer.
func (w *Window) updateLocked(seq, n uint64) error {
	tb := w.topBlock.Load()
	if w.tooOld(seq, topOf(tb, w.ring[tb&ringMask].Load())) {
		return ErrTooOld
	}
	blk := seq / blockBits
	bit := uint64(1) << (seq % blockBits)
	add := n << bytesShift
	if n > maxSlotBytes {
		add = 0
	}
	if blk > tb {
		w.advance(tb, blk, tag(blk)<<tagShift|bit+add)
	} else {
		slot := &w.ring[blk&ringMask]
		for {
			old := slot.Load()
			if old>>tagShift != tag(blk) {
				// Cannot happen at rest: blocks within 255 of
				// the top own their slots. Fail closed.
				return ErrTooOld
			}
			if old&bit != 0 {
				return ErrReplayed
			}
			if slot.CompareAndSwap(old, old|bit+add) {
				break
			}
		}
	}
	if add == 0 {
		w.retired.bytes += n
	}
	return nil
}

// advance moves the top block from tb to blk, recycling the slots of the
// blocks the window moves into (all of them after a jump of a whole ring),
// the last one with first as its word. Under w.mu.
func (w *Window) advance(tb, blk, first uint64) {
	w.version.Add(1)
	n := min(blk-tb, ringBlocks)
	for b := blk - n + 1; b != blk; b++ {
		w.recycle(&w.ring[b&ringMask], tag(b)<<tagShift)
	}
	w.recycle(&w.ring[blk&ringMask], first)
	w.topBlock.Store(blk)
	w.version.Add(1)
}

// Accepted returns how many numbers Update and UpdateCounted recorded,
// and the bytes UpdateCounted added, since the Window was made (Init keeps
// them). Each number recorded is counted once, even while it races.
func (w *Window) Accepted() (packets, bytes uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	packets, bytes = w.retired.packets, w.retired.bytes
	for i := range w.ring {
		s := w.ring[i].Load()
		packets += uint64(bits.OnesCount32(uint32(s)))
		bytes += s >> bytesShift & bytesMask
	}
	return packets, bytes
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
