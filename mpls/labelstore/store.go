package labelstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/config/statefile"
	"github.com/peregrine-net/peregrine/mpls"
)

// FileName is the state file's name in the directory; LockName the lock's.
const (
	FileName = "labels"
	LockName = "labels.lock"
)

// ErrDirInUse: another process holds the directory's labels.lock. Two
// daemons sharing one would hand the same labels out twice. Give each
// daemon its own directory (state.directory, peregrined -state-dir).
var ErrDirInUse = errors.New("the state directory is in use by another process")

// CorruptError is Open's error when the file exists but cannot be read or
// is not a valid labels file: the daemon must not start, since any label
// it handed out might mean something else to a remote PE.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("labelstore: label state %s is unreadable (%v): refusing to allocate labels that may "+
		"mean something else to remote PEs; move the file aside to start with new labels "+
		"(remote PEs may then send traffic under old labels until they learn the new ones)", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Store is the open state file. Its methods are not safe for concurrent
// use: one owner (the BGP speaker's goroutine) saves.
type Store struct {
	dir, path string
	lock      *os.File
}

// Open takes the directory's lock (creating the directory, mode 0700, if
// needed) and reads the state: nil for a first start (no file). Errors
// name the directory or file: an unwritable directory, ErrDirInUse, or a
// *CorruptError.
func Open(dir string) (*Store, *mpls.AllocatorState, error) {
	s := &Store{dir: dir, path: filepath.Join(dir, FileName)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("labelstore: state directory: %w", err)
	}
	lockPath := filepath.Join(dir, LockName)
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("labelstore: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("labelstore: %w: %s is locked", ErrDirInUse, lockPath)
		}
		return nil, nil, fmt.Errorf("labelstore: locking %s: %w", lockPath, err)
	}
	s.lock = f
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil, nil
	}
	var st *mpls.AllocatorState
	if err == nil {
		st, err = parse(data)
	}
	if err != nil {
		s.Close()
		return nil, nil, &CorruptError{Path: s.path, Err: err}
	}
	return s, st, nil
}

// Path is the state file.
func (s *Store) Path() string { return s.path }

// Save puts st on disk durably: a temporary file, synced, renamed over the
// old one, and the directory synced, so that a crash leaves the old file
// or the new one. Errors name the file.
func (s *Store) Save(st *mpls.AllocatorState) error {
	if err := s.write(encode(st)); err != nil {
		return fmt.Errorf("labelstore: saving %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) write(data []byte) error {
	return statefile.Write(s.path, data)
}

// Close releases the lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}
