package userspace

import (
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// queuePoller watches every idle TUN queue of a Backend with one epoll
// set, so that an idle queue costs no goroutine (issue 23: a parked
// reader per queue was two goroutine stacks and their state per VRF, the
// largest share of an idle VRF's memory after its tables):
//
//	idle:  queue fd in the epoll set (EPOLLIN, one-shot)    no reader
//	busy:  reader goroutine (readTUN), parked in Go's netpoller between batches
//
// A queue gets its reader when the epoll set reports it readable, or when
// it makes its tun.Device (an inbound Write: the reader then ends the
// device's life after queueIdleAfter, tunqueue.go). The reader gives the
// queue back, re-arming its one-shot entry, once the queue has let go of
// its device. A queue has at most one reader: parked.reading says which
// queues have one. The packet path is untouched: a busy queue's reader
// reads and sends as it did, with no hand-over per batch.
//
// The epoll descriptor is itself in Go's netpoller (it is readable while
// it has events), so the poller goroutine holds no OS thread either.
type queuePoller struct {
	ep   *os.File
	rc   syscall.RawConn
	epfd int // ep's descriptor, for epoll_ctl while !closed
	// start runs q's reader; it is called with no lock held.
	start func(p *parked)
	log   *slog.Logger
	mu    sync.Mutex
	// slots are the registered queues, by the slot number in their
	// epoll entry; free lists the empty slots.
	slots  []*parked
	free   []int32
	closed bool
	done   chan struct{}
}

// parked is one queue registered with the poller: what its reader
// needs, and whether it has one.
type parked struct {
	p    *queuePoller
	q    *tunQueue
	v    *vrf
	lane int
	slot int32
	gen  int32 // told apart from an earlier queue in the same slot
	fd   int
	// reading is set while the queue has a reader goroutine.
	reading bool
}

// newQueuePoller opens the epoll set and starts its goroutine.
func newQueuePoller(log *slog.Logger, start func(p *parked)) (*queuePoller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	ep := os.NewFile(uintptr(fd), "epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, err
	}
	p := &queuePoller{ep: ep, rc: rc, epfd: fd, start: start, log: log, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// add registers q, queue lane of v's TUN, with no reader: its first
// packet (or its first Write) starts one.
func (p *queuePoller) add(q *tunQueue, v *vrf, lane int) error {
	var fd int
	rc, err := q.file.SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	e, err := p.register(q, v, lane, fd)
	if err != nil {
		return err
	}
	if q.live.Load() != nil { // an inbound Write came first
		p.wake(e)
	}
	return nil
}

// register puts q's entry in a slot and the epoll set.
func (p *queuePoller) register(q *tunQueue, v *vrf, lane, fd int) (*parked, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, os.ErrClosed
	}
	e := &parked{p: p, q: q, v: v, lane: lane, fd: fd}
	if n := len(p.free); n > 0 {
		e.slot = p.free[n-1]
		p.free = p.free[:n-1]
		e.gen = p.slots[e.slot].gen + 1
	} else {
		e.slot = int32(len(p.slots))
		p.slots = append(p.slots, nil)
	}
	if err := p.ctl(unix.EPOLL_CTL_ADD, e); err != nil {
		p.free = append(p.free, e.slot)
		p.slots[e.slot] = &parked{gen: e.gen} // keeps the generation
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p.slots[e.slot] = e
	q.parked.Store(e)
	return e, nil
}

// ctl adds or re-arms e's one-shot entry; mu is held, and the set is
// open (close sets closed under mu before it closes the descriptor).
func (p *queuePoller) ctl(op int, e *parked) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: e.slot, Pad: e.gen}
	return unix.EpollCtl(p.epfd, op, e.fd, &ev)
}

// remove takes q out of the epoll set, before q closes its descriptor.
func (p *queuePoller) remove(q *tunQueue) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := q.parked.Load()
	if e == nil || p.slots[e.slot] != e {
		return
	}
	if !p.closed {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
	}
	p.slots[e.slot] = &parked{gen: e.gen}
	p.free = append(p.free, e.slot)
}

// wake starts e's reader unless it has one or the queue is closing.
func (p *queuePoller) wake(e *parked) {
	p.mu.Lock()
	if e.reading || p.slots[e.slot] != e || p.closed {
		p.mu.Unlock()
		return
	}
	e.reading = true
	p.mu.Unlock()
	p.start(e)
}

// park is called by e's reader as it returns: the queue has no device
// left. It re-arms the queue's entry, which reports a packet that came
// meanwhile at once, and starts a reader again if a Write made a device
// between the reader's last look and now.
func (p *queuePoller) park(e *parked) {
	p.mu.Lock()
	e.reading = false
	if p.slots[e.slot] == e && !p.closed {
		_ = p.ctl(unix.EPOLL_CTL_MOD, e)
	}
	p.mu.Unlock()
	if e.q.live.Load() != nil {
		p.wake(e)
	}
}

// run waits for readable queues and starts their readers, until close.
func (p *queuePoller) run() {
	defer close(p.done)
	var events [64]unix.EpollEvent
	var n int
	var waitErr error
	ready := func(fd uintptr) bool {
		n, waitErr = unix.EpollWait(int(fd), events[:], 0)
		if waitErr == unix.EINTR || waitErr == unix.EAGAIN {
			n, waitErr = 0, nil
		}
		return n > 0 || waitErr != nil
	}
	for {
		if err := p.rc.Read(ready); err != nil || waitErr != nil {
			if waitErr != nil {
				// Idle queues get no reader now: what the CEs send
				// into them is dropped by the kernel, never leaked.
				p.log.Error("TUN queue poller stopped: idle VRFs no longer forward outbound", "err", os.NewSyscallError("epoll_wait", waitErr))
			}
			return // closed, or an epoll set that cannot be waited on
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			var e *parked
			if int(ev.Fd) < len(p.slots) {
				e = p.slots[ev.Fd]
			}
			p.mu.Unlock()
			if e != nil && e.q != nil && e.gen == ev.Pad {
				p.wake(e)
			}
		}
	}
}

// close stops the poller's goroutine and closes the epoll set. The queues
// stay as they are: their readers stop when they close.
func (p *queuePoller) close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ep.Close()
	<-p.done
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
