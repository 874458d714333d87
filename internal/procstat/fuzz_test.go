package procstat

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// seeds adds the files of testdata matching pattern to f's corpus.
func seeds(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseStat feeds /proc/PID/stat lines to its parser: never a panic,
// never a negative CPU time.
func FuzzParseStat(f *testing.F) {
	seeds(f, "stat-*")
	f.Add([]byte("1 (a) b) R 0 1 1 0 -1 0 0 0 0 0 18446744073709551615 1 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseStat(b); err == nil && d < 0 {
			t.Fatalf("%q: %v", b, d)
		}
	})
}

// FuzzParseStatus feeds /proc/PID/status texts to its parser: never a
// panic, never a negative RSS or thread count.
func FuzzParseStatus(f *testing.F) {
	seeds(f, "status-*")
	f.Add([]byte("VmRSS:\t9007199254740991 kB\nThreads:\t2147483647\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if rss, threads, err := ParseStatus(b); err == nil && (rss < 0 || threads < 0) {
			t.Fatalf("%q: %d, %d", b, rss, threads)
		}
	})
}

// FuzzParseMetrics feeds /metrics texts to its parser: never a panic,
// and no name it returns is a comment or carries labels.
func FuzzParseMetrics(f *testing.F) {
	seeds(f, "metrics-*")
	f.Add([]byte("# x\n{ 1\nx{a=\"b\"} 2\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name := range ParseMetrics(b) {
			if name == "" || name[0] == '#' {
				t.Fatalf("%q: name %q", b, name)
			}
			for i := range len(name) {
				if name[i] == '{' {
					t.Fatalf("%q: name %q", b, name)
				}
			}
		}
	})
}

// FuzzParseSNMP feeds /proc/net/snmp texts to its parser: never a panic,
// and a counter it finds is one of the text's numbers.
func FuzzParseSNMP(f *testing.F) {
	seeds(f, "snmp-*")
	f.Add([]byte("Tcp: A\nTcp: 1 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := ParseSNMP(b, "Tcp", "ActiveOpens"); err == nil && !bytes.Contains(b, []byte(strconv.FormatInt(v, 10))) {
			t.Fatalf("%q: %d is not in the text", b, v)
		}
	})
}
