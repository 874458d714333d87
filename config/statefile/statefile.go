// Package statefile writes the files peregrined keeps in its state
// directory (state.directory): ESP sequence marks and MPLS labels, whose
// loss or corruption after a crash would reuse a nonce or a label.
package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// Write replaces path with data so that a crash at any moment leaves the
// old file or the new one, never a mix: data goes to path.tmp (mode
// 0600), which is synced and renamed over path, and the directory is
// synced so that the rename itself survives a power loss. A symbolic
// link at path.tmp is an error.
func Write(path string, data []byte) error {
	tmp := path + ".tmp"
	// O_NOFOLLOW: a symbolic link planted at tmp (by anyone who can write
	// the directory) is refused, not followed into a file root would
	// truncate.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
