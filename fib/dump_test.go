package fib

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestRetryDump: an interrupted dump runs again, up to tries times in
// all, and the last attempt's result and error come back; any other
// outcome ends the retries at once.
func TestRetryDump(t *testing.T) {
	for _, c := range []struct {
		name        string
		interrupted int // attempts the kernel interrupts before one ends
		tries       int
		calls       int
		err         error
	}{
		{"clean", 0, 3, 1, nil},
		{"interrupted once", 1, 3, 2, nil},
		{"interrupted throughout", 9, 3, 3, netlink.ErrDumpInterrupted},
		{"one try", 9, 1, 1, netlink.ErrDumpInterrupted},
	} {
		calls := 0
		out, err := RetryDump(c.tries, func() ([]int, error) {
			calls++
			if calls <= c.interrupted {
				return []int{calls}, netlink.ErrDumpInterrupted
			}
			return []int{calls}, nil
		})
		if calls != c.calls || !errors.Is(err, c.err) || err == nil != (c.err == nil) || len(out) != 1 || out[0] != calls {
			t.Errorf("%s: %d calls, %v, %v; want %d calls, the last one's result, error %v", c.name, calls, out, err, c.calls, c.err)
		}
	}
	calls := 0
	if _, err := RetryDump(5, func() ([]int, error) { calls++; return nil, errors.New("EPERM") }); err == nil || calls != 1 {
		t.Errorf("another error: %d calls, %v; want 1 call and the error", calls, err)
	}
}
