package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

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
	for i := range c.VRFs {
		for j := range c.VRFs[i].Neighbors {
			n := &c.VRFs[i].Neighbors[j]
			if n.PasswordFile == "" {
				continue
			}
			s, err := readSecretFile(baseDir, n.PasswordFile)
			if err != nil {
				errs = append(errs, &FieldError{Path: fmt.Sprintf("vrfs[%d].neighbors[%d].password-file", i, j), Value: strconv.Quote(n.PasswordFile), Reason: err.Error()})
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
// The text has trailing newlines removed.
func readSecretFile(baseDir, name string) (string, error) {
	b, err := readSecretBytes(baseDir, name)
	defer clear(b)
	return string(b), err
}

// readSecretBytes is readSecretFile for key material, which the caller
// zeroes (clear) once it has decoded it.
func readSecretBytes(baseDir, name string) ([]byte, error) {
	return readCheckedFile(baseDir, name, secretFileRules)
}

// fileRules are what readCheckedFile demands beyond the owner: the mode
// bits nobody but the owner may have, and a size bound.
type fileRules struct {
	forbid  os.FileMode // mode bits that refuse the file
	max     int         // largest accepted size in bytes
	fix     string      // what the mode error says to do
	problem string      // what the forbidden bits allow, for the error
}

var (
	// secretFileRules: nobody else may read a key, PSK or password.
	secretFileRules = fileRules{forbid: 0o077, max: maxSecretFile, fix: "chmod 600", problem: "read"}
	// trustFileRules: nobody else may write a certificate, CA bundle or
	// revocation list, which decide whom the daemon trusts; reading is fine.
	trustFileRules = fileRules{forbid: 0o022, max: 1 << 20, fix: "chmod go-w", problem: "write"}
)

// readCheckedFile is readSecretBytes under the given rules.
func readCheckedFile(baseDir, name string, rules fileRules) ([]byte, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(baseDir, name)
	}
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("is a symbolic link; name the file itself")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", &os.PathError{Op: "open", Path: name, Err: err})
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	if err := checkFileStat(&st, uint32(os.Geteuid()), rules); err != nil {
		return nil, err
	}
	// One allocation of the bound, so that no grown-and-dropped copy of
	// the secret is left for the garbage collector.
	b := make([]byte, rules.max+1)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		clear(b)
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	if n > rules.max {
		clear(b)
		return nil, fmt.Errorf("is larger than %d bytes", rules.max)
	}
	b = b[:n]
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b[len(b)-1] = 0
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("is empty")
	}
	return b, nil
}

// parseHexKey decodes key material written in hex, with an optional 0x
// prefix and any white space (a key file may wrap or group the digits). It
// decodes into a new slice without building intermediate strings, so that
// clearing the input and, later, the output leaves no copy.
func parseHexKey(text []byte) ([]byte, error) {
	text = bytes.TrimLeft(text, " \t\r\n")
	if len(text) >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') {
		text = text[2:]
	}
	out := make([]byte, 0, len(text)/2)
	var hi byte
	half := false
	for _, c := range text {
		var v byte
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			clear(out)
			return nil, errNotHex
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half || len(out) == 0 {
		clear(out)
		return nil, errNotHex
	}
	return out, nil
}

// errNotHex is parseHexKey's one error: which byte was wrong would say
// something about the key.
var errNotHex = errors.New("does not hold a hex key")

// checkSecretFileStat applies readSecretFile's owner, mode and type rules
// to an open file's stat.
func checkSecretFileStat(st *unix.Stat_t, euid uint32) error {
	return checkFileStat(st, euid, secretFileRules)
}

func checkFileStat(st *unix.Stat_t, euid uint32, rules fileRules) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("is not a regular file")
	}
	if st.Uid != 0 && st.Uid != euid {
		return fmt.Errorf("is owned by uid %d; it must be owned by root or by the daemon's user (uid %d)", st.Uid, euid)
	}
	if perm := os.FileMode(st.Mode).Perm(); perm&rules.forbid != 0 {
		return fmt.Errorf("mode %04o lets others %s it; %s", perm, rules.problem, rules.fix)
	}
	return nil
}
