package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

var lookPath = exec.LookPath

// goBuild runs `go build -o DIR/ PKG` in the module at root and returns
// its combined output.
func goBuild(ctx context.Context, root, dir, pkg string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), pkg)
	cmd.Dir = root
	return cmd.CombinedOutput()
}

// moduleRoot finds Peregrine's module root from the working directory up,
// so that the benchmark can be run from anywhere inside the tree.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/peregrine-net/peregrine\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the peregrine module (no go.mod found above the working directory)")
		}
		dir = parent
	}
}

// lastLines returns up to n last lines of out, trimmed, on one line each
// separated by " | ", for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
