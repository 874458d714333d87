package main

import (
	"os"
	"testing"
	"time"
)

// TestParseProcStat: utime+stime in USER_HZ ticks, counted from the last
// ')' so that a command name with spaces and parentheses does not shift
// the fields.
func TestParseProcStat(t *testing.T) {
	line := "3482 (pere grined) (x)) S 3479 3479 31876 0 -1 4194304 103 0 0 0 250 75 0 0 20 0 9 0 3373513 3133440 412\n"
	d, err := parseProcStat([]byte(line))
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("parseProcStat = %v, %v; want 3.25s", d, err)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 0 0",
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999 0 0"} {
		if d, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) = %v, want an error", bad, d)
		}
	}
}

// TestParseProcStatSelf reads this process's own line: the kernel's
// format, whatever the test's sample says.
func TestParseProcStatSelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if _, err := parseProcStat(b); err != nil {
		t.Errorf("%v: %s", err, b)
	}
}
