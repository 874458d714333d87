package userspace

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// tunQueue is one queue of a VRF's TUN, costing next to nothing while it
// carries no traffic (issue 23: memory proportional to traffic, not to
// VRFs).
//
// Its file descriptor is open from the start: that is what makes the
// queue exist in the kernel, and its reader waits on it in Go's netpoller
// (tunwait.go). The wireguard-go tun.Device that reads and writes through
// the virtio header, splitting TSO super-packets and coalescing GRO runs,
// holds a 64 KB read buffer and about 1.8 MB of GRO tables; the queue
// makes one, on a duplicate of its descriptor, only when it is first read
// or written, and closes it again once the queue has seen neither for
// queueIdleAfter, leaving its memory to the garbage collector:
//
//	idle:  file (netpoller)            dev nil
//	busy:  file (netpoller)  dup(fd) -> dev (tun.NativeTun: offloads, GRO tables)
//
// The offloads are the device's, set once when it is made (createTUN),
// so a busy queue keeps TSO and GRO whether or not its neighbours are
// attached. Read is for the queue's one reader goroutine; Write may be
// called from any goroutine, concurrently with Read.
type tunQueue struct {
	name string
	file *os.File // the queue's own descriptor, non-blocking
	// mu guards dev: Read and Write hold it shared for the length of a
	// call, attach and detach exclusively. closed is set under it too.
	mu     sync.RWMutex
	dev    tun.Device // nil while idle
	closed bool
	// live is dev for Close, which must close it without taking mu: a
	// Read may hold mu while parked in dev's netpoller wait.
	live atomic.Pointer[device]
	// used is set by every Read and Write, and cleared each time the
	// reader finds the queue idle for queueIdleAfter (idle).
	used atomic.Bool
	// parked is the queue's entry in its Backend's queuePoller, which
	// starts a reader when the queue is readable or makes its device
	// (tunpoll.go); nil: the queue's reader runs for its whole life.
	parked atomic.Pointer[parked]
}

var _ tun.Device = (*tunQueue)(nil)

// queueIdleAfter is how long a queue goes unread and unwritten before it
// lets go of its tun.Device. Long enough that a flow's pauses do not
// make it again and again (about 2 MB of allocation each time), short
// enough that a burst's memory is soon back.
var queueIdleAfter = 30 * time.Second

// errQueueClosed: the queue was closed.
var errQueueClosed = os.ErrClosed

// acquire returns the queue's device, made if it has none, with mu held
// shared: the caller calls mu.RUnlock when done with it.
func (q *tunQueue) acquire() (tun.Device, error) {
	q.used.Store(true)
	q.mu.RLock()
	for q.dev == nil {
		q.mu.RUnlock()
		made, err := q.attach()
		if err != nil {
			return nil, err
		}
		if e := q.parked.Load(); made && e != nil {
			e.p.wake(e) // a Write's device needs a reader to let it go
		}
		q.mu.RLock()
	}
	return q.dev, nil
}

// attach makes the queue's device, on a duplicate of its descriptor, and
// arms the idle check. made says whether it made one.
func (q *tunQueue) attach() (made bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, errQueueClosed
	}
	if q.dev != nil {
		return false, nil
	}
	var fd int
	var dupErr error
	rc, err := q.file.SyscallConn()
	if err == nil {
		err = rc.Control(func(f uintptr) { fd, dupErr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) })
	}
	if err = errors.Join(err, dupErr); err != nil {
		return false, fmt.Errorf("TUN %s: duplicating a queue's descriptor: %w", q.name, err)
	}
	dev, _, err := tun.CreateUnmonitoredTUNFromFD(fd)
	if err != nil {
		unix.Close(fd)
		return false, fmt.Errorf("TUN %s: opening a queue: %w", q.name, err)
	}
	q.dev = dev
	q.live.Store(&device{Device: dev})
	// The reader's wait ends at the deadline and calls idle.
	_ = q.file.SetReadDeadline(time.Now().Add(queueIdleAfter))
	return true, nil
}

// idle is called by the queue's reader when its wait reached the
// deadline attach or the last idle set: it closes the device if the
// queue was neither read nor written since, else looks again one
// queueIdleAfter later.
func (q *tunQueue) idle() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dev == nil || q.closed {
		return
	}
	if q.used.Swap(false) {
		_ = q.file.SetReadDeadline(time.Now().Add(queueIdleAfter))
		return
	}
	q.detachLocked()
	_ = q.file.SetReadDeadline(time.Time{})
}

// detachLocked closes the device; mu is held.
func (q *tunQueue) detachLocked() error {
	if q.dev == nil {
		return nil
	}
	err := q.dev.Close()
	q.dev = nil
	q.live.Store(nil)
	return err
}

// attached reports whether the queue holds a device now (for tests).
func (q *tunQueue) attached() bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.dev != nil
}

// Read reads a batch as tun.Device.Read does, making the device first if
// the queue is idle. If the device cannot be made, the waiting packet is
// dropped (so that the reader, woken by it, does not spin) and the error
// returned.
func (q *tunQueue) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	dev, err := q.acquire()
	if err != nil {
		if !errors.Is(err, errQueueClosed) {
			q.discard()
		}
		return 0, err
	}
	defer q.mu.RUnlock()
	return dev.Read(bufs, sizes, offset)
}

// discard reads one packet from the queue's own descriptor and drops it.
func (q *tunQueue) discard() {
	rc, err := q.file.SyscallConn()
	if err != nil {
		return
	}
	var one [1]byte // a short read takes the whole packet off the queue
	_ = rc.Control(func(fd uintptr) { _, _ = unix.Read(int(fd), one[:]) })
}

// Write writes a batch as tun.Device.Write does (coalescing TCP and UDP
// segments with GRO), making the device first if the queue is idle.
func (q *tunQueue) Write(bufs [][]byte, offset int) (int, error) {
	dev, err := q.acquire()
	if err != nil {
		return 0, err
	}
	defer q.mu.RUnlock()
	return dev.Write(bufs, offset)
}

// File is the queue's own descriptor, for the reader's wait.
func (q *tunQueue) File() *os.File { return q.file }

// BatchSize is the most packets a Read returns: the device is always
// made with a virtio header (IFF_VNET_HDR), for which wireguard-go reads
// up to conn.IdealBatchSize.
func (q *tunQueue) BatchSize() int { return batchSize }

// MTU is not used: createTUN sets the device's MTU.
func (q *tunQueue) MTU() (int, error) { return 0, errors.ErrUnsupported }

// Name is the TUN device's name.
func (q *tunQueue) Name() (string, error) { return q.name, nil }

// Events is nil: the queue is unmonitored (tundev.go).
func (q *tunQueue) Events() <-chan tun.Event { return nil }

// Close closes the device and the descriptor, which wakes the reader
// wherever it waits. It is safe to call more than once.
func (q *tunQueue) Close() error {
	if e := q.parked.Load(); e != nil {
		e.p.remove(q) // before the descriptor's number can be reused
	}
	var errs []error
	if d := q.live.Load(); d != nil {
		errs = append(errs, d.Close()) // first: a Read may hold mu parked in it
	}
	errs = append(errs, q.file.Close())
	q.mu.Lock()
	q.closed = true
	errs = append(errs, q.detachLocked())
	q.mu.Unlock()
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, os.ErrClosed) {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}
