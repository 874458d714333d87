package clab

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One Peregrine node, alone: enough for its daemon to start or not.
//
//	pe1 (peregrined, config bound from pe1/)
const onePE = `name: %s
topology:
  nodes:
    pe1:
      kind: linux
      image: peregrine:latest
      binds: ["pe1:/etc/peregrine"]
      exec: ["ip addr add 10.255.0.1/32 dev lo"]
`

// TestDeployFailsWhenADaemonExits: a node whose peregrined exits at once
// on its configuration fails the deploy with the daemon's own error
// lines, quickly (not after SocketWait), and leaves nothing behind; the
// same node with a good configuration deploys.
func TestDeployFailsWhenADaemonExits(t *testing.T) {
	requireRunner(t)
	bin := filepath.Join(t.TempDir(), "peregrined")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/peregrined").CombinedOutput(); err != nil {
		t.Fatalf("building peregrined: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string // in the deploy's error: the daemon's own words
	}{
		{"good", func(*testing.T, string) {}, ""},
		{"unknown key in a VRF", func(t *testing.T, dir string) {
			edit(t, filepath.Join(dir, "peregrined.yml"), "    interfaces: [eth1]\n", "    interfaces: [eth1]\n    colour: red\n")
		}, `vrfs[0].colour: unknown key`},
		{"key file readable by others", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "to-pe2.key"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, `ipsec.tunnels[0].out.key-file: "to-pe2.key": mode 0644 lets others read it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := "pgw" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
			dir := t.TempDir()
			copyNodeDir(t, "../../containerlab/l3vpn-ipsec/pe1", filepath.Join(dir, "pe1"))
			tc.spoil(t, filepath.Join(dir, "pe1"))
			topo, err := Load(writeTopo(t, dir, strings.ReplaceAll(onePE, "%s", lab)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = Destroy(lab) })
			start := time.Now()
			_, err = Deploy(context.Background(), topo, Options{Peregrined: bin})
			took := time.Since(start)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("deploy of a good node: %v", err)
				}
				if st, err := Inspect(lab); err != nil || !st.Nodes[0].Running {
					t.Fatalf("after deploy: %+v, %v", st, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("deploy succeeded; want it to fail with %q", tc.want)
			}
			t.Logf("deploy failed after %v: %v", took.Round(time.Millisecond), err)
			var de *DaemonExitedError
			if !errors.As(err, &de) || de.Node != "pe1" || de.Err == nil {
				t.Errorf("error %T %+v, want a *DaemonExitedError for pe1 with an exit status", err, de)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error lacks the daemon's own line %q", tc.want)
			}
			if took > SocketWait/2 {
				t.Errorf("deploy took %v to notice: want the daemon's exit, not a timeout", took)
			}
			if l := leftovers(t, lab); len(l) > 0 {
				t.Errorf("left after the failed deploy: %v", l)
			}
		})
	}
}

// copyNodeDir copies a node's bind directory, key files 0600 as
// peregrined demands (git keeps no modes).
func copyNodeDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(e.Name(), ".key") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// edit replaces old (which must occur) with new in the file at path.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
