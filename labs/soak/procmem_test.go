package soak

import (
	"os"
	"testing"
)

// Read from a peregrined of a soak run (Linux 6.18), trimmed to the
// lines ParseProcMem reads and a few beside them.
const (
	testRollup = `55f75f349000-7ffdf946f000 ---p 00000000 00:00 0                          [rollup]
Rss:               54712 kB
Pss:               54700 kB
Pss_Anon:          41000 kB
Pss_File:          13700 kB
Pss_Shmem:             4 kB
Anonymous:         41000 kB
AnonHugePages:      2048 kB
Swap:                  0 kB
`
	testStatus = `Name:	peregrined
VmRSS:	   54712 kB
RssAnon:	   41000 kB
RssFile:	   13708 kB
RssShmem:	       4 kB
Threads:	9
`
)

func TestParseProcMem(t *testing.T) {
	m, err := ParseProcMem([]byte(testRollup), []byte(testStatus))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcMem{Rss: 54712 << 10, Anonymous: 41000 << 10, AnonHuge: 2048 << 10, PssFile: 13700 << 10, PssShmem: 4 << 10,
		RssFile: 13708 << 10, RssShmem: 4 << 10, Threads: 9}
	if m != want {
		t.Errorf("ParseProcMem = %+v, want %+v", m, want)
	}
	for _, c := range []struct{ name, rollup, status string }{
		{"no Threads", testRollup, "RssFile: 1 kB\nRssShmem: 0 kB\n"},
		{"no Anonymous", "Rss: 1 kB\n", testStatus},
		{"a size in MB", testRollup + "Rss: 1 MB\n", testStatus},
		{"not a number", testRollup + "Rss: -1 kB\n", testStatus},
		{"no value", testRollup + "Rss:\n", testStatus},
	} {
		if m, err := ParseProcMem([]byte(c.rollup), []byte(c.status)); err == nil {
			t.Errorf("%s: ParseProcMem = %+v, want an error", c.name, m)
		}
	}
}

// TestReadProcMem reads this process's own: the kernel's files still
// have every line ParseProcMem needs.
func TestReadProcMem(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Skipf("no /proc/self/smaps_rollup (Linux 4.14 or later): %v", err)
	}
	m, err := ReadProcMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Rss <= 0 || m.Anonymous <= 0 || m.Anonymous > m.Rss || m.Threads < 1 {
		t.Errorf("ReadProcMem(self) = %+v", m)
	}
}

func FuzzParseProcMem(f *testing.F) {
	f.Add([]byte(testRollup), []byte(testStatus))
	f.Fuzz(func(t *testing.T, rollup, status []byte) {
		m, err := ParseProcMem(rollup, status)
		if err == nil && (m.Rss < 0 || m.Threads < 0) {
			t.Errorf("ParseProcMem = %+v", m)
		}
	})
}
