package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSocketPermissionDenied: a user outside the socket's group is told
// so, rather than asked whether the daemon runs. Root passes the socket's
// mode, so as root the CLI runs as nobody (uid 65534) in a subprocess.
func TestSocketPermissionDenied(t *testing.T) {
	sock := fakeDaemon(t)
	if err := os.Chmod(sock, 0o660); err != nil {
		t.Fatal(err)
	}
	const want = "control.socket-group"
	if os.Geteuid() != 0 {
		if err := os.Chmod(sock, 0); err != nil {
			t.Fatal(err)
		}
		var errb bytes.Buffer
		if code := run([]string{"-s", sock, "show", "vrf"}, &bytes.Buffer{}, &errb); code != 1 || !strings.Contains(errb.String(), want) {
			t.Errorf("exit %d, %q; want 1 and a message naming %s", code, errb.String(), want)
		}
		return
	}
	if testing.Short() {
		t.Skip("builds the CLI to run it as another user")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peregrine")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, d := range []string{dir, filepath.Dir(sock), filepath.Dir(filepath.Dir(sock))} {
		if err := os.Chmod(d, 0o755); err != nil { // nobody must reach the socket's directory and the binary
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-s", sock, "show", "vrf")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") || !strings.Contains(string(out), want) {
		t.Errorf("as nobody: %v\n%s\nwant a permission error naming %s", err, out, want)
	}
}
