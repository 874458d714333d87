package procstat

import (
	"os"
	"testing"
	"time"
)

// TestParseStat: utime+stime in USER_HZ ticks, counted from the last
// ')' so that a command name with spaces and parentheses does not shift
// the fields.
func TestParseStat(t *testing.T) {
	line := "3482 (pere grined) (x)) S 3479 3479 31876 0 -1 4194304 103 0 0 0 250 75 0 0 20 0 9 0 3373513 3133440 412\n"
	d, err := ParseStat([]byte(line))
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("ParseStat = %v, %v; want 3.25s", d, err)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 0 0",
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999 0 0"} {
		if d, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) = %v, want an error", bad, d)
		}
	}
}

// TestCPUSelf reads this process's own line: the kernel's format,
// whatever the test's sample says.
func TestCPUSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if _, err := CPU(os.Getpid()); err != nil {
		t.Error(err)
	}
}

// TestParseStatus: VmRSS in bytes and Threads from a status text (a
// peregrined's), absent fields 0, a field that is no count an error.
func TestParseStatus(t *testing.T) {
	b, err := os.ReadFile("testdata/status-peregrined")
	if err != nil {
		t.Fatal(err)
	}
	rss, threads, err := ParseStatus(b)
	if err != nil || rss != 28672<<10 || threads != 9 {
		t.Errorf("ParseStatus = %d, %d, %v; want %d bytes, 9 threads", rss, threads, err, 28672<<10)
	}
	if rss, threads, err := ParseStatus([]byte("Name:\tkthreadd\nThreads:\t1\n")); err != nil || rss != 0 || threads != 1 {
		t.Errorf("no VmRSS: %d, %d, %v; want 0, 1", rss, threads, err)
	}
	for _, bad := range []string{"VmRSS:\t-4 kB\n", "VmRSS:\t99999999999999999999 kB\n", "Threads:\tmany\n", "Threads:\t-1\n"} {
		if rss, threads, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) = %d, %d; want an error", bad, rss, threads)
		}
	}
}

// TestStatusSelf reads this process's own status: some memory, at least
// one thread.
func TestStatusSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	rss, threads, err := Status(os.Getpid())
	if err != nil || rss <= 0 || threads < 1 {
		t.Errorf("Status(self) = %d, %d, %v", rss, threads, err)
	}
}

// TestParseMetrics: the unlabelled samples by name, in floating point
// as the exposition writes them; comments and labelled samples left out.
func TestParseMetrics(t *testing.T) {
	b, err := os.ReadFile("testdata/metrics-peregrined")
	if err != nil {
		t.Fatal(err)
	}
	m := ParseMetrics(b)
	for name, want := range map[string]float64{
		"go_goroutines": 42, "go_memstats_heap_alloc_bytes": 7340032, "go_memstats_stack_inuse_bytes": 655360,
		"go_gc_duration_seconds_count": 17,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, ok, want)
		}
	}
	for name := range m {
		if name[0] == '#' || name == "go_gc_duration_seconds" || len(name) > 0 && name[len(name)-1] == '}' {
			t.Errorf("kept %q", name)
		}
	}
	if len(m) != 8 {
		t.Errorf("%d samples, want the 8 unlabelled ones: %v", len(m), m)
	}
}

// TestSelfCPU: the process's CPU time grows while it spins; on a busy
// machine it may take longer than the spinning's wall time says.
func TestSelfCPU(t *testing.T) {
	before, err := SelfCPU()
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		now, err := SelfCPU()
		if err != nil {
			t.Fatal(err)
		}
		if now-before >= 20*time.Millisecond {
			return
		}
	}
	t.Error("10 s of spinning took under 20 ms of CPU")
}
