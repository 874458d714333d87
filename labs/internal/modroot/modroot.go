// Package modroot finds the Peregrine module's root directory, so that lab
// programs and tests run from anywhere inside the tree find bin/tools and
// build ./cmd/peregrined.
package modroot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

// Module is the path in Peregrine's go.mod.
const Module = "github.com/peregrine-net/peregrine"

// ErrNotFound means no directory above the working directory holds
// Peregrine's go.mod: run inside the tree.
var ErrNotFound = errors.New("run inside the peregrine module (no go.mod of " + Module + " above the working directory)")

// Find walks up from the working directory (a test's is its package's) to
// the directory whose go.mod declares Module. Another module's go.mod on
// the way (tools/go.mod) is passed over.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return findFrom(dir)
}

func findFrom(dir string) (string, error) {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotFound
		}
		dir = parent
	}
}

// declares reports whether a go.mod's module line names Module.
func declares(gomod []byte) bool {
	for line := range bytes.Lines(gomod) {
		if f := bytes.Fields(line); len(f) == 2 && string(f[0]) == "module" && string(f[1]) == Module {
			return true
		}
	}
	return false
}
