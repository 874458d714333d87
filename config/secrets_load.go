package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readSecrets fills each neighbor's Password from its password-file or
// password-env. A password file must not be readable by group or others,
// as ssh insists for private keys: a leaked MD5 password lets anyone on the
// path inject into the session.
func (c *Config) readSecrets(baseDir string) Errors {
	var errs Errors
	for i := range c.BGP.Neighbors {
		n := &c.BGP.Neighbors[i]
		p := fmt.Sprintf("bgp.neighbors[%d]", i)
		switch {
		case n.PasswordFile != "":
			s, err := readSecretFile(baseDir, n.PasswordFile)
			if err != nil {
				errs = append(errs, &FieldError{Path: p + ".password-file", Value: strconv.Quote(n.PasswordFile), Reason: err.Error()})
				continue
			}
			n.Password = NewSecret(s)
		case n.PasswordEnv != "":
			s, ok := os.LookupEnv(n.PasswordEnv)
			if !ok || s == "" {
				errs = append(errs, &FieldError{Path: p + ".password-env", Value: strconv.Quote(n.PasswordEnv), Reason: "environment variable is not set"})
				continue
			}
			n.Password = NewSecret(s)
		}
	}
	return errs
}

// maxSecretFile bounds what readSecretFile reads: a hex key, a PSK or a
// password is a few hundred bytes at most.
const maxSecretFile = 64 << 10

// readSecretFile reads a password, PSK or key file, refusing one that
// another user could have written or can read:
//
//   - the last component must not be a symbolic link (O_NOFOLLOW): a link
//     in a shared directory could point the root daemon at any file;
//   - the owner and mode are checked with fstat on the open descriptor, not
//     on the name, so a file swapped in between the check and the read is
//     the file checked;
//   - the owner must be root or the daemon's effective user, and the mode
//     must give group and others nothing (as ssh insists for private keys);
//   - it must be a regular file (opened non-blocking, so a FIFO cannot hang
//     the load).
//
// The read buffer is zeroed before returning.
func readSecretFile(baseDir, name string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(baseDir, name)
	}
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ELOOP) {
		return "", fmt.Errorf("is a symbolic link; name the file itself")
	}
	if err != nil {
		return "", fmt.Errorf("cannot read: %v", &os.PathError{Op: "open", Path: name, Err: err})
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("cannot read: %v", err)
	}
	if err := checkSecretFileStat(&st, uint32(os.Geteuid())); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	defer clear(b)
	if err != nil {
		return "", fmt.Errorf("cannot read: %v", err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("is larger than %d bytes", maxSecretFile)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("is empty")
	}
	return s, nil
}

// checkSecretFileStat applies readSecretFile's owner, mode and type rules
// to an open file's stat.
func checkSecretFileStat(st *unix.Stat_t, euid uint32) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("is not a regular file")
	}
	if st.Uid != 0 && st.Uid != euid {
		return fmt.Errorf("is owned by uid %d; it must be owned by root or by the daemon's user (uid %d)", st.Uid, euid)
	}
	if perm := os.FileMode(st.Mode).Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o lets others read it; chmod 600", perm)
	}
	return nil
}
