package userspace

import (
	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// send writes reqs, rules or routes, in batches (package nlbatch: one
// round trip for up to thousands of them, where vishvananda/netlink
// takes one each) and returns every request the kernel refused, named.
// Each write counts as one request. The socket is opened on first use,
// in the calling thread's network namespace, as the netlink handle was
// in New.
func (s *system) send(reqs nlbatch.Requests) error {
	if reqs.N == 0 {
		return nil
	}
	if s.batch == nil {
		c, err := nlbatch.Open()
		if err != nil {
			return err
		}
		s.batch = c
	}
	writes := s.batch.Writes()
	err := s.batch.Write(reqs)
	s.requests += s.batch.Writes() - writes
	return err
}

// close closes the netlink handle and the batch socket.
func (s *system) close() {
	s.h.Close()
	s.watch.close()
	if s.batch != nil {
		_ = s.batch.Close()
		s.batch = nil
	}
}
