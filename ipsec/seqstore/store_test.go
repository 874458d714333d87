package seqstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

var (
	keyA = bytes.Repeat([]byte{0xa1}, esp.AES128GCM16.KeyLen())
	keyB = bytes.Repeat([]byte{0xb2}, esp.AES128GCM16.KeyLen())
)

func tunnel(key []byte) Tunnel {
	return Tunnel{Remote: netipAddr("192.0.2.2"), SPI: 0x1001, Key: key}
}

func newSA(t testing.TB, key []byte) *esp.SA {
	t.Helper()
	sa, err := esp.NewSA(esp.Config{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// sealSeq seals one packet and returns its sequence number, or an error.
func sealSeq(sa *esp.SA) (uint32, error) {
	buf := make([]byte, esp.Headroom+64+esp.MaxTrailer)
	pkt, err := sa.Seal(buf, esp.Headroom, 64, esp.NextHeaderIPv4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(pkt[4:8]), nil
}

func mustAttach(t testing.TB, s *Store, sa *esp.SA, tn Tunnel) *Reservation {
	t.Helper()
	r, err := s.Attach(sa, tn)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	return r
}

// TestRestartContinuesAboveMark: a first start begins at 1; a second
// store on the same directory (a restart) continues above the mark the
// first one wrote, whatever the first SA actually used; a rotated key
// begins at 1.
func TestRestartContinuesAboveMark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // does not exist yet: a first start
	s1 := Open(dir, nil, Options{Block: 100})
	sa := newSA(t, keyA)
	mustAttach(t, s1, sa, tunnel(keyA))
	for want := uint32(1); want <= 10; want++ {
		if got, err := sealSeq(sa); err != nil || got != want {
			t.Fatalf("seal: %d, %v; want %d", got, err, want)
		}
	}
	s1.Close() // no clean-up of the marks: as after a kill -9

	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(data, []byte("a1a1a1")) {
		t.Error("the state file holds the key")
	}

	s2 := Open(dir, nil, Options{Block: 100})
	defer s2.Close()
	sa2 := newSA(t, keyA)
	mustAttach(t, s2, sa2, tunnel(keyA))
	if got, err := sealSeq(sa2); err != nil || got != 101 {
		t.Errorf("after restart: sequence %d, %v; want 101", got, err)
	}
	rot := newSA(t, keyB)
	mustAttach(t, s2, rot, tunnel(keyB))
	if got, err := sealSeq(rot); err != nil || got != 1 {
		t.Errorf("rotated key: sequence %d, %v; want 1", got, err)
	}
}

// TestKeyInUse: the same key on two live SAs is refused; once the first
// is released the key continues above its mark.
func TestKeyInUse(t *testing.T) {
	s := Open(t.TempDir(), nil, Options{Block: 100})
	defer s.Close()
	r := mustAttach(t, s, newSA(t, keyA), tunnel(keyA))
	other := tunnel(keyA)
	other.Remote = netipAddr("192.0.2.3")
	if _, err := s.Attach(newSA(t, keyA), other); !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("second SA with the same key: %v", err)
	}
	r.Release()
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, other)
	if got, _ := sealSeq(sa); got != 101 {
		t.Errorf("key moved to another tunnel: sequence %d, want 101", got)
	}
}

// TestUnreadableStateKeepsTunnelClosed: a corrupt file closes every manual
// tunnel (LostError names the file and the fix) unless reset-sequence is
// set; the unreadable file is then moved aside, and the new file says the
// history is lost, so unlisted keys still need reset-sequence after a
// restart while listed ones continue.
func TestUnreadableStateKeepsTunnelClosed(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil, Options{Block: 100})
	mustAttach(t, s, newSA(t, keyA), tunnel(keyA))
	s.Close()
	path := filepath.Join(dir, FileName)
	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 1 // the checksum no longer matches
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	s = Open(dir, nil, Options{Block: 100})
	_, err := s.Attach(newSA(t, keyA), tunnel(keyA))
	var lost *LostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "reset-sequence") {
		t.Fatalf("corrupt state: %v", err)
	}
	if strings.Contains(err.Error(), "a1a1") {
		t.Error("the error shows the key")
	}
	reset := tunnel(keyA)
	reset.Reset = true
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, reset)
	if got, _ := sealSeq(sa); got != 1 {
		t.Errorf("reset-sequence: sequence %d, want 1", got)
	}
	s.Close()
	if _, err := os.Stat(path + ".unreadable"); err != nil {
		t.Errorf("unreadable file not kept aside: %v", err)
	}

	s = Open(dir, nil, Options{Block: 100})
	defer s.Close()
	if _, err := s.Attach(newSA(t, keyB), tunnel(keyB)); !errors.As(err, &lost) {
		t.Errorf("a key the lost history may have held: %v", err)
	}
	sa = newSA(t, keyA)
	mustAttach(t, s, sa, tunnel(keyA)) // listed since the reset: no reset-sequence needed
	if got, _ := sealSeq(sa); got != 101 {
		t.Errorf("after the reset and a restart: sequence %d, want 101", got)
	}
}

// TestSealingStopsAtMarkWhenWritesFail: while the state cannot be
// written, the SA seals up to its reserved mark and not one number more
// (each refusal counted); when writing works again it goes on.
func TestSealingStopsAtMarkWhenWritesFail(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil, Options{Block: 20})
	defer s.Close()
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, tunnel(keyA))
	// A directory where the temporary file goes makes every write fail,
	// even for root.
	blocker := filepath.Join(dir, FileName+".tmp")
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	var last uint32
	refused := 0
	for range 100 {
		seq, err := sealSeq(sa)
		if err != nil {
			if !errors.Is(err, esp.ErrSequenceExhausted) {
				t.Fatal(err)
			}
			refused++
			continue
		}
		if seq != last+1 {
			t.Fatalf("sequence %d after %d", seq, last)
		}
		last = seq
	}
	// Give the writer time to try (and retry) while Seal keeps asking.
	for end := time.Now().Add(retryEvery + 500*time.Millisecond); time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
		if seq, err := sealSeq(sa); err == nil {
			t.Fatalf("sealed %d beyond the reserved mark 20 while the state could not be written", seq)
		}
		refused++
	}
	if last != 20 {
		t.Errorf("sealed up to %d, want 20", last)
	}
	if c := sa.Counters(); c.SeqExhausted != uint64(refused) {
		t.Errorf("SeqExhausted %d, want %d", c.SeqExhausted, refused)
	}
	if _, stalled, _ := sa.Reservation(); stalled != uint64(refused) {
		t.Errorf("stalled %d, want %d", stalled, refused)
	}
	os.Remove(blocker)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if seq, err := sealSeq(sa); err == nil {
			if seq != 21 {
				t.Errorf("after recovery: sequence %d, want 21", seq)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sealing did not resume once the state could be written")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s2 := Open(dir, nil, Options{Block: 20})
	s2.load()
	e := s2.mu.st.entries[fingerprintOf(&s2.mu.st.salt, keyA)]
	if e == nil || e.mark < 21 {
		t.Errorf("persisted mark %+v, want at least 21", e)
	}
}

// TestExtendAhead: an SA sealing steadily gets its next block before it
// needs it, and the file's mark is never below what was sealed.
func TestExtendAhead(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil, Options{Block: 64})
	defer s.Close()
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, tunnel(keyA))
	sealed := uint32(0)
	deadline := time.Now().Add(10 * time.Second)
	for sealed < 1000 {
		seq, err := sealSeq(sa)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("stuck at %d", sealed)
			}
			time.Sleep(time.Millisecond)
			continue
		}
		sealed = seq
		if sealed%100 == 0 {
			s2 := Open(dir, nil, Options{})
			s2.load()
			if e := s2.mu.st.entries[fingerprintOf(&s2.mu.st.salt, keyA)]; e == nil || e.mark < uint64(sealed) {
				t.Fatalf("sealed %d but the file's mark is %+v", sealed, e)
			}
		}
	}
}

// TestKeyUsedUp: a key whose mark reached the end of the sequence space
// cannot seal again, even after a restart; one block short of it, the
// reservation stops at the end.
func TestKeyUsedUp(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil, Options{Block: 100})
	s.load()
	fp := fingerprintOf(&s.mu.st.salt, keyA)
	s.mu.st.entries[fp] = &entry{fp: fp, mark: 1<<32 - 50, remote: netipAddr("192.0.2.2"), spi: 0x1001}
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, tunnel(keyA))
	if c, _, _ := sa.Reservation(); c != 1<<32-1 {
		t.Errorf("ceiling %d, want 2^32-1", c)
	}
	s.Close()
	s = Open(dir, nil, Options{Block: 100})
	defer s.Close()
	if _, err := s.Attach(newSA(t, keyA), tunnel(keyA)); !errors.Is(err, ErrKeyUsedUp) {
		t.Errorf("used-up key: %v", err)
	}
}

// TestDirInUse: a second store (another daemon) on a directory in use
// keeps its manual tunnels closed; once the first closes, a new store
// takes the directory.
func TestDirInUse(t *testing.T) {
	dir := t.TempDir()
	s1 := Open(dir, nil, Options{Block: 100})
	mustAttach(t, s1, newSA(t, keyA), tunnel(keyA))
	s2 := Open(dir, nil, Options{Block: 100})
	defer s2.Close()
	if _, err := s2.Attach(newSA(t, keyB), tunnel(keyB)); !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second store on the same directory: %v", err)
	}
	s1.Close()
	s3 := Open(dir, nil, Options{Block: 100})
	defer s3.Close()
	sa := newSA(t, keyA)
	mustAttach(t, s3, sa, tunnel(keyA))
	if got, _ := sealSeq(sa); got != 101 {
		t.Errorf("after the first store closed: sequence %d, want 101", got)
	}
}

// TestAttachAboveUsed: an SA that already sealed (its sequence carried
// over from an SA under the same key that was not persisted) continues
// above what it used, whatever the file says.
func TestAttachAboveUsed(t *testing.T) {
	s := Open(t.TempDir(), nil, Options{Block: 100})
	defer s.Close()
	sa, err := esp.NewSA(esp.Config{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: keyA, InitialSeq: 500})
	if err != nil {
		t.Fatal(err)
	}
	mustAttach(t, s, sa, tunnel(keyA))
	if got, err := sealSeq(sa); err != nil || got != 501 {
		t.Errorf("sequence %d, %v; want 501", got, err)
	}
}

// TestWarnsToRotate: a manual SA past esp's soft limit (7/8 of its
// sequence space) gets one log line telling the operator to rotate its
// key, since no key exchange will.
func TestWarnsToRotate(t *testing.T) {
	var logs safeBuffer
	s := Open(t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)), Options{Block: 10})
	defer s.Close()
	s.mu.Lock()
	s.load()
	fp := fingerprintOf(&s.mu.st.salt, keyA)
	s.mu.st.entries[fp] = &entry{fp: fp, mark: 1<<32 - 1<<29, remote: netipAddr("192.0.2.2"), spi: 0x1001}
	s.mu.Unlock()
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, tunnel(keyA))
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "rotate its key") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no rotation warning; log:\n%s", logs.String())
		}
		_, _ = sealSeq(sa)
		time.Sleep(time.Millisecond)
	}
	for range 50 {
		_, _ = sealSeq(sa)
		time.Sleep(time.Millisecond)
	}
	if n := strings.Count(logs.String(), "rotate its key"); n != 1 {
		t.Errorf("%d rotation warnings, want 1", n)
	}
}

// TestMissingStateAfterUseKeepsTunnelClosed: a state file deleted from a
// directory a daemon has used (its lock file is there) is a lost one, not
// a first start: the key that sealed before stays closed until
// reset-sequence; a directory made empty in advance (no lock file) is a
// first start.
func TestMissingStateAfterUseKeepsTunnelClosed(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, nil, Options{Block: 100})
	mustAttach(t, s, newSA(t, keyA), tunnel(keyA))
	s.Close()
	if err := os.Remove(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}

	s = Open(dir, nil, Options{Block: 100})
	defer s.Close()
	_, err := s.Attach(newSA(t, keyA), tunnel(keyA))
	var lost *LostError
	if !errors.As(err, &lost) || !errors.Is(err, errMissing) {
		t.Fatalf("state file deleted after use: %v, want a *LostError for a missing file", err)
	}
	reset := tunnel(keyA)
	reset.Reset = true
	sa := newSA(t, keyA)
	mustAttach(t, s, sa, reset)
	if got, _ := sealSeq(sa); got != 1 {
		t.Errorf("reset-sequence: sequence %d, want 1", got)
	}

	fresh := t.TempDir() // made in advance, as a package or an image would
	s2 := Open(fresh, nil, Options{Block: 100})
	defer s2.Close()
	sa = newSA(t, keyA)
	mustAttach(t, s2, sa, tunnel(keyA))
	if got, _ := sealSeq(sa); got != 1 {
		t.Errorf("first start in an empty directory: sequence %d, want 1", got)
	}
}

// TestAttachAH: a manually keyed AH SA's sequence persists as ESP's does:
// after a "restart" (a new Store on the same directory) an AES-GMAC SA
// under the same key continues above every number it may have used, so
// its GMAC IV never repeats.
func TestAttachAH(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0xc3}, ah.AES128GMAC.KeyLen())
	newAH := func() *ah.SA {
		sa, err := ah.NewSA(ah.Config{SPI: 0x2002, Integ: ah.AES128GMAC, Key: key, ManualKey: true})
		if err != nil {
			t.Fatal(err)
		}
		return sa
	}
	seal := func(sa *ah.SA) uint32 {
		t.Helper()
		buf := make([]byte, ah.Headroom+32)
		pkt, err := sa.SealTunnel(buf, ah.Headroom, 32, ah.NextHeaderMPLS, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"))
		if err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint32(pkt[ah.IPv4HeaderLen+8:])
	}
	tun := Tunnel{Remote: netip.MustParseAddr("192.0.2.2"), SPI: 0x2002, Key: key}
	s1 := Open(dir, nil, Options{})
	sa1 := newAH()
	if _, err := s1.Attach(sa1, tun); err != nil {
		t.Fatal(err)
	}
	var last uint32
	for range 5 {
		last = seal(sa1)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := Open(dir, nil, Options{})
	defer s2.Close()
	sa2 := newAH()
	if _, err := s2.Attach(sa2, tun); err != nil {
		t.Fatal(err)
	}
	if got := seal(sa2); got <= last {
		t.Fatalf("after restart the AH SA sealed with sequence (GMAC IV) %d, not above %d", got, last)
	}
}
