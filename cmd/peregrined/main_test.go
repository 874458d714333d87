package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goodConfig listens nowhere on the host: no BGP port, no gRPC API, and
// the control socket in the test's own directory.
const goodConfig = "router: {id: 192.0.2.1, asn: 65000}\nbgp: {listen-port: 0, api: ''}\ndataplane: {backend: none}\n"

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"valid", goodConfig, 0, "configuration is valid"},
		{"CE sessions run", "router: {id: 192.0.2.1, asn: 65000}\nvrfs: [{name: red, rd: '65000:1', interfaces: [ce1], neighbors: [{address: 10.1.0.2, asn: 65101}]}]\n",
			0, "configuration is valid"},
		{"unknown key", goodConfig + "vrfz: {a: 1}\n", 1, "vrfz: unknown key"},
		{"bad value", "router: {id: 192.0.2.1, asn: 99999999999}\n", 1, "router.asn: 99999999999: out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name+".yml", tc.body)
			var out, errb bytes.Buffer
			code := run([]string{"-check", "-c", p}, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			if got := out.String() + errb.String(); !strings.Contains(got, tc.want) {
				t.Errorf("output %q does not contain %q", got, tc.want)
			}
			if tc.code != 0 && !strings.Contains(errb.String(), p+": ") {
				t.Errorf("error output %q does not name the file", errb.String())
			}
		})
	}
	var errb bytes.Buffer
	if code := run([]string{"-check", "-c", filepath.Join(dir, "missing.yml")}, &bytes.Buffer{}, &errb); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
	if code := run([]string{"-bogus"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

// TestSignals runs the real binary: SIGHUP with a bad file keeps running and
// says why, SIGHUP with a good file reloads, SIGTERM exits 0.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peregrined")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sock := "control: {socket: " + filepath.Join(dir, "pe.sock") + "}\n"
	cfg := writeFile(t, dir, "pe.yml", goodConfig+sock)
	cmd := exec.Command(bin, "-c", cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("daemon exited before logging %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no log line containing %q", want)
			}
		}
	}
	waitFor("peregrined started")

	writeFile(t, dir, "pe.yml", goodConfig+sock+"log: {level: loud}\n")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor(`reload refused, running configuration kept`)

	writeFile(t, dir, "pe.yml", goodConfig+sock+"log: {level: debug}\n")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor("configuration reloaded")

	_ = cmd.Process.Signal(syscall.SIGTERM)
	waitFor("peregrined stopping")
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

// TestStartFailsWhenBGPAPIPortTaken: peregrined does not start without the
// API it was told to serve, and says which field and address.
func TestStartFailsWhenBGPAPIPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	defer l.Close()
	dir := t.TempDir()
	p := writeFile(t, dir, "pe.yml", strings.Replace(goodConfig, "api: ''", "api: '"+l.Addr().String()+"'", 1)+
		"control: {socket: "+filepath.Join(dir, "pe.sock")+"}\n")
	var errb bytes.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"-c", p}, &bytes.Buffer{}, &errb) }()
	select {
	case code := <-exit:
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("peregrined started with its bgp.api port taken") // errb is still being written
	}
	if want := "bgp.api " + l.Addr().String() + ": "; !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "address already in use") {
		t.Errorf("stderr does not name %q and say the address is in use:\n%s", want, errb.String())
	}
}
