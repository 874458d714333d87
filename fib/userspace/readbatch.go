package userspace

import (
	"runtime"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/ipsec/esptransport"
)

// readBatch is what a TUN reader needs to move one batch, CE to core: the
// packet buffers (with headroom and tailroom, pools.go), their sizes and
// the batch of ESP packets to send. At a 9000-byte MTU it is about 1.2 MB,
// so a VRF's queues do not own one each: they borrow it from a
// batchPool while a batch is in flight and give it back before they wait
// for the next (issue 23: memory proportional to traffic, not to VRFs).
type readBatch struct {
	bufBlock // bufs, the packets' buffers
	sizes    []int
	send     *esptransport.SendBatch
	// ah queues the batch's AH packets for the AH socket (ahsock.go).
	ah *esptransport.SendBatch
	// frames queues the batch's plain MPLS frames (plain.go); they point
	// into bufs, so they are sent before the batch goes back.
	frames *frameSender
}

func newReadBatch(bufSize int) *readBatch {
	return &readBatch{
		bufBlock: takeBufs(batchSize, bufSize),
		sizes:    make([]int, batchSize),
		send:     esptransport.NewSendBatch(batchSize),
		ah:       esptransport.NewSendBatch(batchSize),
		frames:   &frameSender{m: newFrameBatch(batchSize)},
	}
}

// batchPool lends readBatches to every TUN reader of a Backend. It makes
// them on demand, at most max, and keeps them: once max are in flight, a
// reader waits for one to come back, so the memory is bounded by the
// cores (more batches in flight than goroutines running only queue up)
// and not by the VRF count. Getting and putting back allocate nothing
// once a batch has been made. Safe for concurrent use.
type batchPool struct {
	free    chan *readBatch // capacity max: put never blocks
	made    atomic.Int32
	max     int32
	bufSize int
}

// readBatchesPerCPU is how many batches the pool makes per CPU: one in
// flight per running reader, and one being filled or sent while its
// goroutine is descheduled.
const readBatchesPerCPU = 2

func newBatchPool(bufSize int) *batchPool {
	n := max(2, readBatchesPerCPU*runtime.GOMAXPROCS(0))
	return &batchPool{free: make(chan *readBatch, n), max: int32(n), bufSize: bufSize}
}

// get returns a batch, making one if fewer than max exist, else waiting
// until a reader puts one back.
func (p *batchPool) get() *readBatch {
	select {
	case b := <-p.free:
		return b
	default:
	}
	if p.made.Add(1) <= p.max {
		return newReadBatch(p.bufSize)
	}
	p.made.Add(-1)
	return <-p.free
}

// release gives the memory of every batch in the pool back
// (bufmem.go), for Close once no reader runs; a batch still lent out
// keeps its own.
func (p *batchPool) release() {
	for {
		select {
		case b := <-p.free:
			b.release()
			p.made.Add(-1)
		default:
			return
		}
	}
}

// put gives b back to the pool.
func (p *batchPool) put(b *readBatch) { p.free <- b }

// inUse is how many batches are lent out now.
func (p *batchPool) inUse() int { return int(p.made.Load()) - len(p.free) }
