//go:build race

package bgp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// raceSuppressions is the file of races the detector is not to report
// (GoBGP's, not this package's: the file says which and why).
const raceSuppressions = "testdata/race.supp"

// TestMain runs the tests with raceSuppressions. The race runtime reads
// GORACE once, as the process starts, so a binary started without it
// runs itself again with it; one started with suppressions of its own
// (or none: GORACE=suppressions=/dev/null) keeps them.
func TestMain(m *testing.M) {
	if !strings.Contains(os.Getenv("GORACE"), "suppressions=") {
		if err := execWithSuppressions(); err != nil {
			fmt.Fprintln(os.Stderr, "bgp tests:", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// execWithSuppressions replaces the process with itself, with GORACE
// naming raceSuppressions; it returns only on error.
func execWithSuppressions() error {
	file, err := filepath.Abs(raceSuppressions)
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("race suppressions: %w", err)
	}
	if strings.ContainsAny(file, " \t") {
		return fmt.Errorf("race suppressions: GORACE cannot name %q (it has a space)", file)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := []string{"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" suppressions="+file)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return syscall.Exec(exe, os.Args, env)
}
