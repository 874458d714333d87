package main

import (
	"context"
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

// lastLines returns up to n last lines of out, trimmed, on one line each
// separated by " | ", for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
