package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadConfigFiles runs `peregrined -check` on every file in
// testdata/bad. Each file's first line is "# want: TEXT": the check must
// exit 1 and print TEXT, which names the field and the bad value.
func TestBadConfigFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := bufio.NewReader(fh).ReadString('\n')
			fh.Close()
			want, ok := strings.CutPrefix(strings.TrimSpace(first), "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: ...'", f)
			}
			var out, errb bytes.Buffer
			code := run([]string{"-check", "-c", f}, &out, &errb)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr: %s", code, errb.String())
			}
			if !strings.Contains(errb.String(), want) {
				t.Errorf("stderr %q\ndoes not contain %q", errb.String(), want)
			}
		})
	}
}
