package netns

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// LockDir holds one lock file per live lab, "<id>.lock", flocked by the lab's
// process for its whole life. The kernel drops the flock when that process
// dies, however it dies, which is what makes a lab recognisably stale. /run
// is a tmpfs, emptied at boot together with the namespaces.
var LockDir = "/run/peregrine-netns"

var labNamespace = regexp.MustCompile(`^` + NamePrefix + `([0-9a-f]{6})-`)

// acquireLock creates and flocks LockDir/<id>.lock. It fails with
// os.ErrExist when another lab holds the ID.
func acquireLock(id string) (*os.File, error) {
	if err := os.MkdirAll(LockDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	path := lockPath(id)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab lock %s: %w", path, os.ErrExist)
	}
	// A sweep may have taken the file for a dead lab's between our create
	// and our flock, and unlinked it: then our lock guards nothing.
	if !sameFile(f, path) {
		f.Close()
		return nil, fmt.Errorf("lab lock %s: swept while being taken: %w", path, os.ErrExist)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid()) // for humans; the flock is the truth
	return f, nil
}

func lockPath(id string) string { return filepath.Join(LockDir, id+".lock") }

func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}

func releaseLock(id string, f *os.File) {
	os.Remove(lockPath(id))
	f.Close() // drops the flock
}

// Sweep removes what labs of dead processes left behind: the processes still
// running in their namespaces, the namespaces (and so their veth pairs),
// their directories and lock files. Labs whose process is alive are left
// alone, so concurrent test binaries do not disturb each other. New calls it.
func Sweep(log *slog.Logger) error {
	ids := map[string]bool{}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sweep: %w", err)
	}
	for _, e := range entries {
		if m := labNamespace.FindStringSubmatch(e.Name()); m != nil {
			ids[m[1]] = true
		}
	}
	locks, _ := os.ReadDir(LockDir)
	for _, e := range locks {
		if id, ok := strings.CutSuffix(e.Name(), ".lock"); ok && len(id) == 6 {
			ids[id] = true
		}
	}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		f, stale := takeStaleLock(id)
		if !stale {
			continue
		}
		log.Warn("sweeping stale lab", "lab", NamePrefix+id)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), NamePrefix+id+"-") {
				if err := RemoveNamespace(e.Name(), 0); err != nil {
					errs = append(errs, err)
				}
			}
		}
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), NamePrefix+id+"-*"))
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			}
		}
		os.Remove(lockPath(id))
		if f != nil {
			f.Close()
		}
	}
	return errors.Join(errs...)
}

// takeStaleLock reports whether lab id is dead: its lock file is missing, or
// free. When the file exists it returns it flocked, so no one can revive the
// ID while it is being swept.
func takeStaleLock(id string) (*os.File, bool) {
	f, err := os.OpenFile(lockPath(id), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, true
	}
	if err != nil {
		return nil, false // unreadable: do not guess
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false // held: the lab is alive
	}
	return f, true
}
