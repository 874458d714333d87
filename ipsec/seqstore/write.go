package seqstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/peregrine-net/peregrine/config/statefile"
)

// writer answers refills until Close.
func (s *Store) writer() {
	defer s.wg.Done()
	retry := time.NewTimer(retryEvery)
	retry.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-retry.C:
		}
		if !s.extend() {
			retry.Reset(retryEvery)
		}
	}
}

// extend writes a block more for every reservation that asked, and then
// raises their ceilings. It reports false if the write failed.
func (s *Store) extend() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	type grow struct {
		r          *Reservation
		from, mark uint64
		old        uint64
	}
	var gs []grow
	for fp, r := range s.mu.live {
		e := s.mu.st.entries[fp]
		if !r.pending.Load() || e == nil || e.mark >= r.limit {
			continue
		}
		gs = append(gs, grow{r: r, from: e.mark, mark: s.next(e.mark, r.limit), old: e.mark})
		e.mark = gs[len(gs)-1].mark
	}
	if len(gs) == 0 {
		return true
	}
	if err := s.write(); err != nil {
		for _, g := range gs {
			s.mu.st.entries[g.r.fp].mark = g.old
		}
		return false
	}
	for _, g := range gs {
		// Clear before raising: a Seal that asks after this point is
		// heard (see refill).
		g.r.pending.Store(false)
		g.r.sa.Extend(g.mark, s.refillAt(g.from, g.mark))
		if g.r.sa.NeedsRekey() && !g.r.warned {
			// No key exchange will replace a manual SA: say it while
			// there is time (esp's soft limit is 7/8 of the space).
			g.r.warned = true
			s.log.Warn("manual SA is past its soft sequence limit: rotate its key before it stops sealing",
				"tunnel", g.r.t.String(), "last", g.r.sa.LastSeq(), "end", g.r.limit)
		}
	}
	return true
}

// write puts the state on disk durably: a temporary file, synced, renamed
// over the old one, and the directory synced, so that a crash leaves the
// old file or the new one.
func (s *Store) write() error {
	err := s.writeFile(s.mu.st.encode())
	switch {
	case err != nil && !s.mu.failing:
		s.mu.failing = true
		s.log.Error("cannot write ESP sequence state: manual SAs stop sealing at their reserved numbers "+
			"until it can be written (retried every second)", "file", s.path, "err", err)
	case err == nil && s.mu.failing:
		s.mu.failing = false
		s.log.Info("ESP sequence state written again", "file", s.path)
	}
	return err
}

func (s *Store) writeFile(data []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	if s.mu.unreadable != nil {
		aside := s.path + ".unreadable"
		if err := os.Rename(s.path, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("moving the unreadable file aside: %w", err)
		}
		s.log.Warn("moved the unreadable ESP sequence state aside", "to", aside)
		s.mu.unreadable = nil
	}
	return statefile.Write(s.path, data)
}
