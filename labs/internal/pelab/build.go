package pelab

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// BuildPeregrined builds cmd/peregrined into dir and returns the binary's
// path. Test mains call it once per test binary.
func BuildPeregrined(dir string) (string, error) {
	bin := filepath.Join(dir, "peregrined")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/peregrine-net/peregrine/cmd/peregrined").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build peregrined: %v\n%s", err, out)
	}
	return bin, nil
}
