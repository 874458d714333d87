package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// peregrinedConfig is a PE with the kernel backend, iBGP VPNv4 and VPNv6
// to the other PE over the (IPv4) core, and red and blue on two CE interfaces.
const peregrinedConfig = `router: {id: %[1]s, asn: 65000}
dataplane: {backend: kernel}
control: {socket: %[2]s}
bgp:
  api: ''
  neighbors: [{address: %[3]s, asn: 65000, local-address: %[1]s, families: [vpnv4, vpnv6], connect-retry: 1s}]
vrfs:
  - {name: red, rd: '65000:%[4]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[5]s]}
  - {name: blue, rd: '65000:%[4]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[6]s]}
`

// requirePeregrined skips the test outside the VM or without
// /bin/peregrined in it.
func requirePeregrined(t *testing.T) {
	t.Helper()
	requireVM(t)
	if _, err := os.Stat("/bin/peregrined"); err != nil {
		t.Skip("peregrined is not in the VM (labs/vm -cmd ./cmd/peregrined)")
	}
}

// startPeregrined runs /bin/peregrined (labs/vm -cmd ./cmd/peregrined) in
// ns and returns the path of its log.
func startPeregrined(t *testing.T, ns netns.NsHandle, name, config string) (logPath string) {
	t.Helper()
	logPath, _, _ = startPeregrinedProc(t, ns, name, config)
	return logPath
}

// startPeregrinedProc is startPeregrined that also returns the process
// and its configuration file, for tests that reload it (rewrite the file,
// SIGHUP).
func startPeregrinedProc(t *testing.T, ns netns.NsHandle, name, config string) (logPath string, p *os.Process, configPath string) {
	t.Helper()
	return startPeregrinedIn(t, ns, name, config, "")
}

// startPeregrinedIn is startPeregrinedProc with the state directory
// given, so that a restarted daemon finds its sequence store; "" gives
// the daemon a directory of its own.
func startPeregrinedIn(t *testing.T, ns netns.NsHandle, name, config, stateDir string) (logPath string, p *os.Process, configPath string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if stateDir == "" {
		// Each daemon its own state directory: two must never share one.
		stateDir = filepath.Join(dir, "state")
	}
	cmd := exec.Command("/bin/peregrined", "-c", path, "-state-dir", stateDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The child inherits the locked thread's namespace.
	if err := onThreadIn(ns, cmd.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log ---\n%s", name, b)
		}
	})
	return logf.Name(), cmd.Process, path
}

// TestPeregrinedWithKernelBackend: the same CE - PE1 - PE2 - CE topology,
// but the PEs run peregrined with the kernel backend and learn each other's
// VRF routes and labels over BGP VPNv4: pings cross in both VRFs and the
// core carries labels peregrined allocated.
func TestPeregrinedWithKernelBackend(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	startPeregrined(t, n.pe1, "pe1", fmt.Sprintf(peregrinedConfig, "192.168.0.1", filepath.Join(dir, "pe1.sock"), "192.168.0.2", 1, "ce1", "ce2"))
	startPeregrined(t, n.pe2, "pe2", fmt.Sprintf(peregrinedConfig, "192.168.0.2", filepath.Join(dir, "pe2.sock"), "192.168.0.1", 2, "ce3", "ce4"))
	n.pingAll(t, 21, 60*time.Second, true) // VPNv6 over the IPv4 core: 6VPE
	pe2, red1, blue1 := n.pe2, n.red1, n.blue1
	red := captureMPLS(t, pe2, "core", func() { _ = ping(red1, "10.2.0.2", 22) })
	blue := captureMPLS(t, pe2, "core", func() { _ = ping(blue1, "10.2.0.2", 23) })
	if red < 16 || blue < 16 || red == blue {
		t.Errorf("core labels toward pe2: red %d, blue %d; want two distinct allocated labels", red, blue)
	}
}
