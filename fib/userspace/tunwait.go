package userspace

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// readiness waits until a TUN queue has a packet to read, holding no
// buffer meanwhile: tun.Device.Read wants the batch's buffers before it
// blocks, so a reader that called it straight away would own a batch for
// as long as its VRF is idle. The queue's file is non-blocking (tundev.go)
// and so registered in Go's netpoller: an idle queue parks a goroutine,
// not an OS thread.
type readiness struct {
	rc syscall.RawConn
	// q, if the device is a tunQueue, is told when its idle deadline
	// ends a wait (tunqueue.go).
	q     *tunQueue
	pfd   [1]unix.PollFd
	ready func(fd uintptr) bool // made once: a closure per wait would allocate
}

// newReadiness returns dev's readiness, or nil if dev has no file to
// poll (a test's fake device): its reader then borrows a batch before
// each Read.
func newReadiness(dev tun.Device) *readiness {
	f, ok := dev.(interface{ File() *os.File })
	if !ok {
		return nil
	}
	rc, err := f.File().SyscallConn()
	if err != nil {
		return nil
	}
	r := &readiness{rc: rc}
	r.q, _ = dev.(*tunQueue)
	r.ready = func(fd uintptr) bool {
		// poll with no timeout reads nothing: it only says whether a
		// read would return now. An error (POLLERR, a closed fd) is
		// for Read to report.
		r.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		n, err := unix.Poll(r.pfd[:], 0)
		return n > 0 || (err != nil && err != unix.EINTR)
	}
	return r
}

// errParked: the queue let go of its device and goes back to its
// queuePoller; its reader returns (tunpoll.go).
var errParked = errors.New("TUN queue idle: parked")

// wait returns once a read of the queue would not block, or with an error
// once the queue is closed. RawConn.Read arms the netpoller before it
// calls ready, so a packet that arrives between the poll and the park
// still wakes it. A tunQueue's idle deadline ends the wait early: the
// queue then lets go of its device if it was idle, and the wait goes on,
// or, if a queuePoller watches the queue, ends with errParked.
func (r *readiness) wait() error {
	for {
		err := r.rc.Read(r.ready)
		if r.q == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		r.q.idle()
		if r.q.parked.Load() != nil && r.q.live.Load() == nil {
			return errParked
		}
	}
}
