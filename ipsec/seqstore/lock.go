package seqstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// LockName is the lock file in the state directory.
const LockName = "lock"

// ErrDirInUse: another process holds the state directory. Two daemons
// sharing one would each rewrite the file without the other's marks, and
// after a restart a key whose mark was lost would count from 1 again; so
// the second one keeps its manual tunnels closed. Give each daemon its own
// directory (state.directory, peregrined -state-dir).
var ErrDirInUse = errors.New("the state directory is in use by another process")

// lockDir takes the directory's lock (flock, exclusive, not waiting) the
// first time it is needed, and keeps it while the store is open; the
// kernel drops it when the process ends, however it ends. A failure is
// remembered: the store stays unusable rather than racing another owner.
func (s *Store) lockDir() error {
	if s.mu.lock != nil {
		return nil
	}
	if s.mu.lockErr != nil {
		return s.mu.lockErr
	}
	err := func() error {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return err
		}
		path := filepath.Join(s.dir, LockName)
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return fmt.Errorf("%w: %s is locked (%s)", ErrDirInUse, s.dir, path)
			}
			return fmt.Errorf("locking %s: %w", path, err)
		}
		s.mu.lock = f
		s.mu.usedBefore = statErr == nil
		return nil
	}()
	if err != nil && errors.Is(err, ErrDirInUse) {
		s.mu.lockErr = err
		s.log.Error("ESP sequence state directory is in use by another process: manual tunnels stay closed; "+
			"give each daemon its own state.directory", "dir", s.dir)
	}
	return err
}
