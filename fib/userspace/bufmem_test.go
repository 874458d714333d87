package userspace

import (
	"os"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newBufs is n buffers of size bytes in one Go-heap block, for tests
// that drive a reader or a queue by hand.
func newBufs(n, size int) [][]byte { return splitBufs(make([]byte, n*size), n, size) }

// held is how many blocks of n bytes wait in c.
func (c *blockCache) held(n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.free[n])
}

// residentPages counts mem's pages the kernel has in memory (mincore).
func residentPages(t *testing.T, mem []byte) int {
	t.Helper()
	vec := make([]byte, (len(mem)+os.Getpagesize()-1)/os.Getpagesize())
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(mem))), uintptr(len(mem)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// A socket reader's batch taken after the daemon has made and dropped
// garbage must cost no resident memory until packets land in it. A
// Go-heap batch was placed on the freed pages, resident from the garbage
// and zeroed for it: all of its pages were resident from the start, and
// stayed so, as no trim gives back a live object's pages.
func TestPacketBuffersUntouchedUntilUsed(t *testing.T) {
	var garbage [][]byte
	for range 16 {
		b := make([]byte, 8<<20)
		for i := 0; i < len(b); i += os.Getpagesize() {
			b[i] = 1
		}
		garbage = append(garbage, b)
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	// Freed, and still resident until the runtime's scavenger or the
	// daemon's trim hands them back, which nothing can do for pages a
	// live block has been placed on.
	runtime.GC()

	blk := takeBufs(batchSize, inBufSize+1) // a size no other test takes: a fresh block
	defer blk.release()
	if got := residentPages(t, blk.mem); got > 0 {
		t.Fatalf("%d of %d pages resident before any packet", got, len(blk.mem)/os.Getpagesize())
	}
	// The measure sees what a packet touches: one buffer, written through.
	for i := range blk.bufs[0] {
		blk.bufs[0][i] = 0xaa
	}
	pages := (len(blk.bufs[0]) + os.Getpagesize() - 1) / os.Getpagesize()
	if got := residentPages(t, blk.mem); got < pages || got > pages+1 {
		t.Fatalf("%d pages resident after one buffer of %d pages was written", got, pages)
	}
}

// A block given back is the next one of its length taken; each buffer is
// size bytes and cannot grow into the next.
func TestPacketBuffersRecycled(t *testing.T) {
	const n, size = 3, 4099 // a length no other test takes
	a := takeBufs(n, size)
	if len(a.bufs) != n || len(a.bufs[1]) != size || cap(a.bufs[1]) != size {
		t.Fatalf("bufs: %d of len %d cap %d, want %d of %d", len(a.bufs), len(a.bufs[1]), cap(a.bufs[1]), n, size)
	}
	if !a.mapped {
		t.Skip("the kernel refused an anonymous mapping: blocks are Go heap, nothing to recycle")
	}
	addr := unsafe.SliceData(a.mem)
	held := packetMem.held(n * size)
	a.release()
	a.release() // a second release gives nothing back twice
	if got := packetMem.held(n * size); got != held+1 {
		t.Fatalf("blocks held after release: %d, want %d", got, held+1)
	}
	b := takeBufs(size, n) // same length, other shape
	defer b.release()
	if unsafe.SliceData(b.mem) != addr {
		t.Fatal("a block of the same length was mapped anew instead of reused")
	}
	if got := packetMem.held(n * size); got != held {
		t.Fatalf("blocks held after reuse: %d, want %d", got, held)
	}
	if z := takeBufs(0, size); len(z.bufs) != 0 || z.mapped {
		t.Fatalf("takeBufs(0): %d buffers, mapped %v", len(z.bufs), z.mapped)
	}
}

// Close gives the batches of the TUN readers' pool back once they are
// all home; one still lent out keeps its memory.
func TestBatchPoolRelease(t *testing.T) {
	const size = 1237 // a length no other test takes
	p := newBatchPool(size)
	a, b := p.get(), p.get()
	if !a.mapped {
		t.Skip("the kernel refused an anonymous mapping: blocks are Go heap, nothing to give back")
	}
	p.put(a)
	held := packetMem.held(batchSize * size)
	p.release()
	if got := packetMem.held(batchSize * size); got != held+1 {
		t.Fatalf("blocks held after release: %d, want %d", got, held+1)
	}
	if p.inUse() != 1 {
		t.Fatalf("in use after release: %d, want 1 (b)", p.inUse())
	}
	b.bufs[0][0] = 1 // b's memory is still its own
	p.put(b)
	p.release()
}
