package labelstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/mpls"
)

func sampleState() *mpls.AllocatorState {
	return &mpls.AllocatorState{
		Range: mpls.Range{First: 1000, Last: 1999}, Next: 1005,
		Bound: []mpls.BoundLabel{
			{Label: 1000, Binding: mpls.Binding{VRF: "red"}},
			{Label: 1001, Binding: mpls.Binding{VRF: "blue", Prefix: netip.MustParsePrefix("10.1.0.0/24")}},
			{Label: 1002, Binding: mpls.Binding{VRF: "odd name\"", Prefix: netip.MustParsePrefix("2001:db8::/64")}},
		},
		Held: []mpls.HeldLabel{
			{Label: 1003, Binding: mpls.Binding{VRF: "gone"}, Until: time.Unix(1_700_000_360, 0)},
			{Label: 1004, Binding: mpls.Binding{VRF: "", Prefix: netip.MustParsePrefix("192.0.2.0/24")}, Until: time.Unix(1_700_000_400, 0)},
		},
	}
}

func withSum(body []byte) []byte {
	return fmt.Appendf(body, "sum %x\n", sha256.Sum256(body))
}

func TestEncodeParseRoundTrip(t *testing.T) {
	st := sampleState()
	data := encode(st)
	got, err := parse(data)
	if err != nil {
		t.Fatalf("parse(encode): %v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, st)
	}
	if !bytes.Contains(data, []byte(`bind 1002 "odd\x20name\"" 2001:db8::/64`)) {
		t.Errorf("VRF name not quoted as documented:\n%s", data)
	}
}

func TestParseRejects(t *testing.T) {
	good := encode(sampleState())
	body := good[:bytes.LastIndex(good, []byte("sum "))]
	for name, data := range map[string][]byte{
		"empty":         nil,
		"truncated":     good[:len(good)-10],
		"bit flipped":   append(append([]byte{}, good[:30]...), append([]byte{good[30] ^ 1}, good[31:]...)...),
		"no range":      withSum([]byte(fileHeader + "\nnext 16\n")),
		"label twice":   withSum(append(bytes.Clone(body), "bind 1000 \"x\"\n"...)),
		"binding twice": withSum(append(bytes.Clone(body), "bind 1500 \"red\"\n"...)),
		"unmasked":      withSum(append(bytes.Clone(body), "bind 1500 \"x\" 10.0.0.1/24\n"...)),
		"bad label":     withSum(append(bytes.Clone(body), "bind 01500 \"x\"\n"...)),
		"big label":     withSum(append(bytes.Clone(body), "bind 1048576 \"x\"\n"...)),
		"other header":  withSum([]byte("peregrine labels 2\nrange 16-17\nnext 16\n")),
	} {
		if _, err := parse(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOpenSaveReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, st, err := Open(dir)
	if err != nil || st != nil {
		t.Fatalf("Open on a new directory = %v, %v; want no state", st, err)
	}
	if err := s.Save(sampleState()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir); !errors.Is(err, ErrDirInUse) {
		t.Errorf("second Open while the first holds the lock = %v, want ErrDirInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, st, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !reflect.DeepEqual(st, sampleState()) {
		t.Errorf("reopened state %+v, want %+v", st, sampleState())
	}
	if fi, err := os.Stat(s.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
}

// A corrupt file stops Open with an error naming the file and the way
// out, and leaves the file where it is.
func TestOpenCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte("peregrine labels 1\nrange 16-17\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move the file aside") {
		t.Fatalf("Open with a corrupt file = %v, want *CorruptError naming %s", err, path)
	}
	// The lock is released: after the operator moves the file aside, a
	// start works.
	if err := os.Rename(path, path+".bad"); err != nil {
		t.Fatal(err)
	}
	s, st, err := Open(dir)
	if err != nil || st != nil {
		t.Fatalf("Open after moving the file aside = %v, %v", st, err)
	}
	s.Close()
}

// An unwritable directory: Open or Save fails naming the path.
func TestUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes through mode bits; a file where the directory
		// should be stops root too.
		dir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Open(%s), a file = %v, want an error naming it", dir, err)
		}
		return
	}
	dir := t.TempDir()
	s, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := s.Save(sampleState()); err == nil || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("Save into a read-only directory = %v, want an error naming %s", err, s.Path())
	}
}
