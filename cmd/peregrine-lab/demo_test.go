package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/labs/clab"
)

// TestDemo runs what `make demo` runs, under a lab name of its own so that
// it leaves a user's demo alone: the l3vpn-ipsec topology comes up, every
// CE ping is answered, the verdict says PASS, and -destroy leaves no
// namespace or process behind.
func TestDemo(t *testing.T) {
	t.Run("l3vpn-ipsec", func(t *testing.T) {
		out := runDemo(t, "l3vpn-ipsec")
		for _, want := range []string{
			// FRR CEs ping loopback to loopback, IPv4 and IPv6, by the routes they learned from their PE.
			"ce-red-1   (vrf red) -> 172.16.2.1 3/3 replies from 172.16.1.1", "ce-blue-2  (vrf blue) -> fd00:16:1::1 3/3 replies from fd00:16:2::1",
			"24/24 CE pings answered", "and 5 FRR routers",
			"ce-red-2   (vrf red)   fd00:2::1      AS 65000  Established  pe2",
			// as-override: the other site's AS 65100 became the provider's.
			"*> 172.16.2.1/32    10.1.0.1                 0             0 65000 65000 i",
			"172.16.2.1/32     10.255.0.2", "eth1       red   ce    up     1500  10.1.0.1/24,fd00:1::1/64", "pg-red     red   tun   up     9000"} {
			if !strings.Contains(out, want) {
				t.Errorf("demo output lacks %q", want)
			}
		}
	})
	t.Run("three-site", func(t *testing.T) {
		out := runDemo(t, "three-site")
		if !strings.Contains(out, "BGP up on 3 PEs and 6 FRR routers, 72/72 CE pings answered") {
			t.Error("three-site: want 72/72 pings: every FRR CE (6) from its loopbacks to the 2 other sites' of its VRF, IPv4 and IPv6, 3 each")
		}
		if !strings.Contains(out, "*> 172.16.3.1/32    10.1.0.1                 0             0 65000 65000 i") {
			t.Error("three-site: ce-blue-1 lacks site 3's loopback with the as-overridden path 65000 65000")
		}
	})
	t.Run("three-site-v6core", func(t *testing.T) {
		out := runDemo(t, "three-site/three-site-v6core")
		for _, want := range []string{"72/72 CE pings answered", "fd00:255::254  65000  established", "vpnv4 6/4/2"} {
			if !strings.Contains(out, want) {
				t.Errorf("three-site-v6core: demo output lacks %q (IPv6 core: every PE's one session to the RR up, VPNv4 over it, 72/72 pings)", want)
			}
		}
	})
}

// runDemo runs the demo on containerlab/NAME/NAME.clab.yml (or
// containerlab/DIR/FILE.clab.yml for a NAME of DIR/FILE) and returns
// its output, having checked the verdict, the SA counters, that no key
// leaks, and that -destroy leaves nothing.
func runDemo(t *testing.T, name string) string {
	topo, bin := labTopology(t, name)
	var out bytes.Buffer
	err := demo(context.Background(), topo, clab.Options{Peregrined: bin}, true, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if !strings.Contains(out.String(), "verdict: PASS") {
		t.Error("no PASS verdict")
	}
	// The ESP counters moved, and no key file's bytes appear in any
	// output: the demo's tables here, and show ipsec sa --json.
	if !strings.Contains(out.String(), "aes128gcm16") {
		t.Error("demo output lacks the SA table")
	}
	inSA := false
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "== ") {
			inSA = strings.Contains(l, "show ipsec sa")
			continue
		}
		if f := strings.Fields(l); inSA && len(f) >= 9 && strings.HasPrefix(f[2], "0x") {
			if f[6] == "0" {
				t.Errorf("SA with no packets after the pings: %s", l)
			}
		}
	}
	keys, _ := filepath.Glob(filepath.Join(topo.Dir, "*", "*.key"))
	if len(keys) == 0 {
		t.Fatal("no key files found in the topology")
	}
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		hexKey := strings.TrimSpace(string(b))
		if strings.Contains(strings.ToLower(out.String()), strings.ToLower(hexKey[:16])) {
			t.Errorf("key material of %s appears in the demo output", k)
		}
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "clab-"+topo.Name+"-") {
			t.Errorf("namespace %s left after -destroy", e.Name())
		}
	}
	return out.String()
}

// labTopology loads containerlab/NAME/NAME.clab.yml (or
// containerlab/DIR/FILE.clab.yml for a NAME of DIR/FILE) from a copy of
// its directory, under a lab name of its own and a state directory that
// the test removes, and builds peregrined. It skips where the lab cannot
// run.
func labTopology(t *testing.T, name string) (topo *clab.Topology, peregrined string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the demo lab")
	}
	if err := clab.RequireRoot(); err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(clab.DefaultBgpd); err != nil {
		t.Skip("FRR's bgpd not installed (apt-get install frr): the labs' route reflectors and CEs")
	}
	bin := filepath.Join(t.TempDir(), "peregrined")
	if out, err := exec.Command("go", "build", "-o", bin, "../peregrined").CombinedOutput(); err != nil {
		t.Fatalf("building peregrined: %v\n%s", err, out)
	}
	file := "../../containerlab/" + name + "/" + name + ".clab.yml"
	if strings.Contains(name, "/") {
		file = "../../containerlab/" + name + ".clab.yml"
	}
	topo, err := clab.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// Key files must be 0600, and git does not keep modes: work on a copy.
	topo.Dir = copyDir(t, topo.Dir)
	var id [3]byte
	_, _ = rand.Read(id[:])
	topo.Name = "t" + hex.EncodeToString(id[:])
	clab.StateDir = t.TempDir()
	t.Cleanup(func() { _ = clab.Destroy(topo.Name) })
	return topo, bin
}

// copyDir copies a topology directory, making key files 0600.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".key") {
			mode = 0o600
		}
		return os.WriteFile(target, b, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
