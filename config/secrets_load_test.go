package config

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSecretFileRefusals loads a neighbor whose password-file is each kind
// of file the daemon must not trust, and checks the error names the field,
// the file and the reason.
func TestSecretFileRefusals(t *testing.T) {
	const field = `bgp.neighbors[0].password-file: "pw": `
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir, pw string)
		want  string
	}{
		{"symlink to a good file", func(t *testing.T, dir, pw string) {
			writeSecret(t, filepath.Join(dir, "real"), 0o600)
			must(t, os.Symlink(filepath.Join(dir, "real"), pw))
		}, "is a symbolic link"},
		{"symlink to a file the daemon should not read", func(t *testing.T, dir, pw string) {
			must(t, os.Symlink("/etc/passwd", pw))
		}, "is a symbolic link"},
		{"group readable", func(t *testing.T, dir, pw string) { writeSecret(t, pw, 0o640) }, "mode 0640 lets others read it"},
		{"other writable", func(t *testing.T, dir, pw string) { writeSecret(t, pw, 0o602) }, "mode 0602 lets others read it"},
		{"fifo", func(t *testing.T, dir, pw string) { must(t, syscall.Mkfifo(pw, 0o600)) }, "is not a regular file"},
		{"directory", func(t *testing.T, dir, pw string) { must(t, os.Mkdir(pw, 0o700)) }, "is not a regular file"},
		{"too large", func(t *testing.T, dir, pw string) {
			must(t, os.WriteFile(pw, make([]byte, maxSecretFile+1), 0o600))
		}, "is larger than"},
		{"owned by another user", func(t *testing.T, dir, pw string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown a file to another user")
			}
			writeSecret(t, pw, 0o600)
			must(t, os.Chown(pw, 65534, 65534))
		}, "is owned by uid 65534; it must be owned by root or by the daemon's user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir, filepath.Join(dir, "pw"))
			cfgPath := filepath.Join(dir, "pe.yml")
			must(t, os.WriteFile(cfgPath, []byte("router: {id: 192.0.2.1, asn: 65000}\nbgp: {neighbors: [{address: 10.0.0.2, asn: 65000, password-file: pw}]}\n"), 0o644))
			done := make(chan error, 1)
			go func() { _, err := Load(cfgPath); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), field+tc.want) {
					t.Errorf("got %v\nwant an error containing %q", err, field+tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Load hangs on the file")
			}
		})
	}
}

// TestSecretFileStatRules checks the owner and mode rules on a stat alone,
// as for a file owned by the daemon's own (non-root) user.
func TestSecretFileStatRules(t *testing.T) {
	reg := func(uid, mode uint32) *unix.Stat_t {
		return &unix.Stat_t{Uid: uid, Mode: unix.S_IFREG | mode}
	}
	for _, tc := range []struct {
		st   *unix.Stat_t
		euid uint32
		ok   bool
	}{
		{reg(0, 0o600), 1000, true},
		{reg(1000, 0o400), 1000, true},
		{reg(1001, 0o600), 1000, false},
		{reg(1000, 0o660), 1000, false},
		{reg(0, 0o604), 0, false},
	} {
		if err := checkSecretFileStat(tc.st, tc.euid); (err == nil) != tc.ok {
			t.Errorf("uid %d mode %o euid %d: %v, want ok %v", tc.st.Uid, tc.st.Mode&0o777, tc.euid, err, tc.ok)
		}
	}
}

func writeSecret(t *testing.T, name string, mode os.FileMode) {
	t.Helper()
	must(t, os.WriteFile(name, []byte("s3cret-md5\n"), mode))
	must(t, os.Chmod(name, mode)) // WriteFile's mode passes through the umask
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseHexKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" for an error
	}{
		{"a1b2c3", "a1b2c3"},
		{"0xA1B2C3", "a1b2c3"},
		{"  0x a1 b2\n c3\r\n", "a1b2c3"},
		{"a1b2c", ""},
		{"a1b2cg", ""},
		{"0x", ""},
		{"", ""},
		{"a1 0x b2", ""},
	} {
		got, err := parseHexKey([]byte(tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: %x, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("%q: %x, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseHexKey: never a panic; what decodes is what hex.DecodeString
// makes of the digits, and what fails names no byte of the input.
func FuzzParseHexKey(f *testing.F) {
	for _, s := range []string{"a1b2c3d4", "0xA1B2", " a1 b2\n", "0x", "zz", "a1b", "0X0x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := parseHexKey(append([]byte(nil), in...))
		if err != nil {
			if err.Error() != "does not hold a hex key" {
				t.Fatalf("%q: error %q", in, err)
			}
			return
		}
		digits := strings.Join(strings.Fields(string(in)), "")
		if len(digits) >= 2 && (digits[:2] == "0x" || digits[:2] == "0X") {
			digits = digits[2:]
		}
		want, werr := hex.DecodeString(digits)
		if werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("%q: %x, but hex.DecodeString(%q) = %x, %v", in, got, digits, want, werr)
		}
	})
}
