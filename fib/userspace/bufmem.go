package userspace

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Packet buffers live outside the Go heap, in anonymous mappings of their
// own (issue 23: memory proportional to traffic, not to VRFs). A socket
// reader's batch is 8 MiB (128 datagrams of up to 64 KiB), and the fast
// path starts its readers during the first Apply, after the configuration
// and the FIB have made and dropped tens of MiB. Taken from the Go heap,
// a batch was placed on those freed pages, still resident from the
// garbage, and zeroed for it: it held them resident for good, as no trim
// gives back a live object's pages. A fresh mapping's pages cost nothing
// until a packet lands in them, and the collector never scans them.
//
// A block is never unmapped: its owner gives it back when its goroutine
// ends and the next reader that asks for that length takes it, so the
// mappings only ever hold packets, and a stale reference could at worst
// see another packet, as any reused buffer can, never the Go heap.
// Nothing here runs per packet.

// bufBlock is n buffers of size bytes each, in one block of memory.
type bufBlock struct {
	bufs   [][]byte
	mem    []byte
	mapped bool // mem is a mapping of packetMem's, else Go heap
}

// packetMem holds the blocks given back, by length, for reuse.
var packetMem = blockCache{free: map[int][][]byte{}}

type blockCache struct {
	mu   sync.Mutex
	free map[int][][]byte
}

// takeBufs returns n buffers of size bytes each: a block given back
// before, a new mapping, or, if the kernel refuses one, Go heap.
func takeBufs(n, size int) bufBlock {
	var b bufBlock
	if n*size > 0 {
		b.mem, b.mapped = packetMem.take(n * size)
	}
	b.bufs = splitBufs(b.mem, n, size)
	return b
}

// splitBufs cuts mem into n buffers of size bytes, each capped at its
// end so that no append runs into the next.
func splitBufs(mem []byte, n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
	return bufs
}

// release gives the block back for another reader; b's buffers must not
// be used after it. Go heap is left to the collector.
func (b *bufBlock) release() {
	if !b.mapped {
		return
	}
	packetMem.give(b.mem)
	b.bufs, b.mem, b.mapped = nil, nil, false
}

func (c *blockCache) take(n int) ([]byte, bool) {
	c.mu.Lock()
	if l := c.free[n]; len(l) > 0 {
		mem := l[len(l)-1]
		c.free[n] = l[:len(l)-1]
		c.mu.Unlock()
		return mem, true
	}
	c.mu.Unlock()
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]byte, n), false
	}
	return mem, true
}

func (c *blockCache) give(mem []byte) {
	c.mu.Lock()
	c.free[len(mem)] = append(c.free[len(mem)], mem)
	c.mu.Unlock()
}
