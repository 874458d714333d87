// Package fake is a fib.Backend that programs nothing and records, as ip
// command lines, what an ip-driven backend of the userspace design would
// run. Tests compare its Lines with golden files and check its Diffs,
// the way Tailscale's router tests check their fake's ip commands.
//
// The fake remembers the lines it believes installed (the OS as it would
// see it) and turns each Apply into the commands that take that set to
// Lines(s): deletions first, last-added first, then additions in Lines
// order. FailAfter makes an Apply stop halfway, as a real one can, so
// tests can check that the next Apply still converges.
package fake

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/peregrine-net/peregrine/fib"
)

// Backend is the fake. Its zero value is not ready; use New. It is safe
// for concurrent use: tests read it while a Reconciler applies.
type Backend struct {
	mu struct {
		sync.Mutex
		installed map[string]string // line -> sort key: what the fake believes is installed
		last      *fib.State        // last State applied without error
		diffs     [][]string
		applies   uint64
		failures  uint64
		commands  uint64
		failAfter int // -1: do not fail
		failErr   error
		closed    bool
	}
}

var (
	_ fib.Backend       = (*Backend)(nil)
	_ fib.TunnelCarrier = (*Backend)(nil)
)

// New returns a fake with nothing installed.
func New() *Backend {
	b := &Backend{}
	b.mu.installed = map[string]string{}
	b.mu.failAfter = -1
	return b
}

// Apply implements fib.Backend: it records the commands that take what
// it has installed to Lines(s), and "runs" them.
func (b *Backend) Apply(ctx context.Context, s *fib.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return errors.New("fake: apply after close")
	}
	b.mu.applies++
	want := entries(s)
	var dels, adds []string
	for line := range b.mu.installed {
		if _, ok := want[line]; !ok {
			dels = append(dels, line)
		}
	}
	for line := range want {
		if _, ok := b.mu.installed[line]; !ok {
			adds = append(adds, line)
		}
	}
	byKey := func(keys map[string]string) func(a, b string) int {
		return func(x, y string) int { return cmp.Or(cmp.Compare(keys[x], keys[y]), cmp.Compare(x, y)) }
	}
	slices.SortFunc(dels, byKey(b.mu.installed))
	slices.Reverse(dels)
	slices.SortFunc(adds, byKey(want))

	diff := []string{}
	defer func() { b.mu.diffs = append(b.mu.diffs, diff) }()
	run := func(cmd string) error {
		if b.mu.failAfter == 0 {
			b.mu.failAfter = -1
			b.mu.failures++
			return b.mu.failErr
		}
		if b.mu.failAfter > 0 {
			b.mu.failAfter--
		}
		diff = append(diff, cmd)
		b.mu.commands++
		return nil
	}
	for _, line := range dels {
		if err := run(Del(line)); err != nil {
			return err
		}
		delete(b.mu.installed, line)
	}
	for _, line := range adds {
		if err := run(line); err != nil {
			return err
		}
		b.mu.installed[line] = want[line]
	}
	b.mu.last = s
	return nil
}

// Del turns an add command into the matching delete: the first " add "
// becomes " del " (`ip route add ...` -> `ip route del ...`, `# tunnel
// add ...` -> `# tunnel del ...`).
func Del(add string) string { return strings.Replace(add, " add ", " del ", 1) }

// Close implements fib.Backend. Later Applies fail.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.closed = true
	return nil
}

// FailAfter makes a later Apply fail with err after running n more
// commands (n = 0: before the next command); the commands run so far
// stay installed, as they would on a real system.
func (b *Backend) FailAfter(n int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.failAfter, b.mu.failErr = n, err
}

// CarriesTunnels implements fib.TunnelCarrier: the fake records tunnels
// (as comment lines) like everything else.
func (b *Backend) CarriesTunnels() bool { return true }

// Lines returns Lines of the last State applied without error.
func (b *Backend) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Lines(b.mu.last)
}

// Diffs returns the commands each Apply ran, one slice per Apply, oldest
// first; a failed Apply's slice holds the commands it ran before failing.
func (b *Backend) Diffs() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.mu.diffs)
}

// LastDiff returns the commands the latest Apply ran (nil before any).
func (b *Backend) LastDiff() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.mu.diffs) == 0 {
		return nil
	}
	return b.mu.diffs[len(b.mu.diffs)-1]
}

// Applies returns how many times Apply has been called.
func (b *Backend) Applies() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.mu.applies)
}

// Counters returns the fake's own counts, for tests.
func (b *Backend) Counters() map[string]uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return map[string]uint64{
		"applies":        b.mu.applies,
		"apply failures": b.mu.failures,
		"commands":       b.mu.commands,
	}
}
