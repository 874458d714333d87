package userspace

import (
	"syscall"

	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// send sends msgs, whole rtnetlink requests, in batches (package nlbatch:
// one round trip for up to nlbatch.Size rules or routes, where
// vishvananda/netlink takes one each) and calls refused with the index
// and error of each the kernel refused. Each write counts as one request.
// The socket is opened on first use, in the calling thread's network
// namespace, as the netlink handle was in New.
func (s *system) send(msgs [][]byte, refused func(i int, err syscall.Errno)) error {
	if len(msgs) == 0 {
		return nil
	}
	if s.batch == nil {
		c, err := nlbatch.Open()
		if err != nil {
			return err
		}
		s.batch = c
	}
	s.requests += (len(msgs) + nlbatch.Size - 1) / nlbatch.Size
	return s.batch.Do(msgs, refused)
}

// close closes the netlink handle and the batch socket.
func (s *system) close() {
	s.h.Close()
	if s.batch != nil {
		_ = s.batch.Close()
		s.batch = nil
	}
}
