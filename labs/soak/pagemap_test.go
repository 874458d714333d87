package soak

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestReadResidencySeesFirstTouch maps this process's own heap: a large
// buffer fresh from the kernel is not resident until written, and the
// MiBs written are, page by page.
func TestReadResidencySeesFirstTouch(t *testing.T) {
	if _, err := os.Stat("/proc/self/pagemap"); err != nil {
		t.Skipf("no /proc/self/pagemap: %v", err)
	}
	b := make([]byte, 24<<20) // a large object: its own span, fresh from the kernel
	for i := 0; i < 1<<20; i += pageSize {
		b[i] = 1 // the first MiB of b, every page
	}
	b[12<<20] = 1 // one page 12 MiB in
	maps, err := ReadResidency(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	addr := uint64(uintptr(unsafe.Pointer(&b[0])))
	runtime.KeepAlive(b)
	var m *ResidencyMap
	for i := range maps {
		if maps[i].Start <= addr && addr < maps[i].End {
			m = &maps[i]
		}
	}
	if m == nil {
		t.Fatalf("no mapping holds the buffer at %x", addr)
	}
	// The MiBs of the mapping wholly inside b, by b's offset.
	touched, untouchedResident := 0, 0
	for i, n := range m.PerMiB {
		lo := m.Start + uint64(i)<<20
		if lo < addr || lo+1<<20 > addr+uint64(len(b)) {
			continue
		}
		off := lo - addr
		switch {
		case off < 1<<20 || off <= 12<<20 && 12<<20 < off+1<<20:
			touched += n
		default:
			untouchedResident += n
		}
	}
	if untouchedResident != 0 {
		t.Errorf("%d pages resident in MiBs of the buffer never written", untouchedResident)
	}
	// The first MiB is at most partly wholly inside b (b need not start
	// on a MiB), but the page 12 MiB in is.
	if touched < 1 {
		t.Errorf("%d pages resident in the MiBs written", touched)
	}
	var out bytes.Buffer
	if err := WriteResidency(&out, maps); err != nil || !strings.HasPrefix(out.String(), "mapping ") {
		t.Errorf("WriteResidency: %v: %.80q", err, out.String())
	}
}
