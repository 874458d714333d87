package fib

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// RetryDump runs a netlink dump up to tries times in all while the
// kernel reports it interrupted (NLM_F_DUMP_INTR: the table changed
// under it), as vishvananda/netlink asks of its callers. It returns the
// last attempt's result and error; with ErrDumpInterrupted the result
// may lack entries or list one twice, which a listing for people may
// show and anything that acts on it must not.
func RetryDump[T any](tries int, dump func() ([]T, error)) ([]T, error) {
	out, err := dump()
	for i := 1; i < tries && errors.Is(err, netlink.ErrDumpInterrupted); i++ {
		out, err = dump()
	}
	return out, err
}
