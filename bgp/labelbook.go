package bgp

import (
	"fmt"
	"log/slog"

	"github.com/peregrine-net/peregrine/mpls"
	"github.com/peregrine-net/peregrine/mpls/labelstore"
)

// labelBook is the originator's label allocator and, with a state
// directory, its file (package mpls/labelstore): the file is opened and
// read at the first label asked for, so a speaker with no VRF never
// touches the directory, and saved before any route carrying a new label
// is advertised (flush), so that no advertised label is missing from it
// after a crash. Owned by the speaker's goroutine.
//
// A save that fails (a full disk) fails the flush only if a label is bound
// that the file does not bind the same way: a label the caller then gives
// back (originator.sync releases what it bound for routes it did not
// advertise) must not keep every later reload from applying until the
// disk has room again.
type labelBook struct {
	r    mpls.Range
	hold mpls.AllocatorOptions
	dir  string // "" keeps the labels in memory only
	log  *slog.Logger

	alloc *mpls.Allocator // nil until the first label with a dir
	store *labelstore.Store
	saved uint64 // the allocator's Version on disk
	// onDisk is what the file binds: the state last saved, or restored.
	onDisk map[mpls.BoundLabel]bool
	saves  int // files written, for the tests
}

func newLabelBook(cfg *Config, log *slog.Logger) *labelBook {
	return &labelBook{r: cfg.Labels, hold: mpls.AllocatorOptions{HoldDown: cfg.LabelHoldDown}, dir: cfg.StateDir, log: log}
}

// allocator returns the allocator, restoring it from the directory the
// first time.
func (b *labelBook) allocator() (*mpls.Allocator, error) {
	if b.alloc != nil {
		return b.alloc, nil
	}
	a, err := mpls.NewAllocatorWith(b.r, b.hold)
	if err != nil {
		return nil, err
	}
	if b.dir == "" {
		b.alloc = a
		return a, nil
	}
	s, st, err := labelstore.Open(b.dir)
	if err != nil {
		return nil, err
	}
	if st == nil {
		b.log.Info("no label state: a first start, labels are allocated afresh", "file", s.Path())
	} else {
		b.onDisk = boundSet(st)
		outside := a.Restore(st)
		for i, o := range outside {
			if i == 10 {
				b.log.Warn("more labels outside the configured range", "count", len(outside)-i)
				break
			}
			b.log.Warn("persisted label outside the configured label range: its binding gets a new label",
				"label", o.Label, "binding", o.Binding.String(), "range", b.r.String())
		}
		b.log.Info("labels restored", "file", s.Path(), "bound", len(st.Bound), "held", len(st.Held),
			"hold-down", b.hold.HoldDown)
	}
	// saved stays 0, below any Version: the first flush writes the
	// file, with the restore's hold-downs in it.
	b.alloc, b.store = a, s
	return a, nil
}

// flush saves the allocator if it changed since the last save. If the
// save fails, it fails only when a label is bound that the file does not
// bind: routes carrying labels the file has are safe to advertise, and the
// next flush tries to save again.
func (b *labelBook) flush() error {
	if b.store == nil {
		return nil
	}
	v := b.alloc.Version()
	if v == b.saved {
		return nil
	}
	st := b.alloc.State()
	if err := b.store.Save(st); err != nil {
		for _, bl := range st.Bound {
			if !b.onDisk[bl] {
				return fmt.Errorf("labels not persisted, routes with new labels are not advertised: %w", err)
			}
		}
		b.log.Warn("label state not saved; every bound label is on disk already", "error", err)
		return nil
	}
	b.saved, b.onDisk = v, boundSet(st)
	b.saves++
	return nil
}

// boundSet is the set of st's bound labels.
func boundSet(st *mpls.AllocatorState) map[mpls.BoundLabel]bool {
	m := make(map[mpls.BoundLabel]bool, len(st.Bound))
	for _, bl := range st.Bound {
		m[bl] = true
	}
	return m
}

// release unbinds l, which stays held down (mpls.Allocator).
func (b *labelBook) release(l mpls.Label) {
	if b.alloc != nil {
		_ = b.alloc.Release(l)
	}
}

// close saves what changed and releases the directory.
func (b *labelBook) close() {
	if b.store == nil {
		return
	}
	if err := b.flush(); err != nil {
		b.log.Warn("label state not saved at stop", "error", err)
	}
	_ = b.store.Close()
	b.store = nil
}
