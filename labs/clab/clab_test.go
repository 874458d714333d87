package clab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeTopo(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "t.clab.yml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadRefusesBadTopologies(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pe1.yml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const nodes = "name: bad\ntopology:\n  nodes:\n    a: {kind: linux, image: alpine}\n    b: {kind: linux, image: alpine}\n"
	for _, tc := range []struct{ name, body, want string }{
		{"unknown node in a link", nodes + "  links:\n    - endpoints: [a:eth1, c:eth1]\n", `topology.links[0].endpoints[1]: "c:eth1": no node "c"`},
		{"duplicate interface", nodes + "  links:\n    - endpoints: [a:eth1, b:eth1]\n    - endpoints: [a:eth1, b:eth2]\n", `topology.links[1].endpoints[0]: "a:eth1": interface already used by topology.links[0]`},
		{"missing bind file", "name: bad\ntopology:\n  nodes:\n    a: {kind: linux, image: peregrine, binds: [nothere.yml:/etc/peregrine/peregrined.yml]}\n", `topology.nodes.a.binds[0]: "nothere.yml:/etc/peregrine/peregrined.yml"`},
		{"one endpoint", nodes + "  links:\n    - endpoints: [a:eth1]\n", "topology.links[0].endpoints: want 2 endpoints, got 1"},
		{"not linux", "name: bad\ntopology:\n  nodes:\n    a: {kind: srl, image: x}\n", `topology.nodes.a.kind: "srl"`},
		{"bad name", "name: 'a b'\ntopology:\n  nodes:\n    a: {kind: linux}\n", `name: "a b"`},
	} {
		_, err := Load(writeTopo(t, dir, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestHostPath(t *testing.T) {
	topo := &Topology{Dir: "/labs/x"}
	topo.Topology.Nodes = map[string]Node{"pe1": {Binds: []string{"pe1:/etc/peregrine:ro", "/abs/frr.conf:/etc/frr/frr.conf"}}}
	for dst, want := range map[string]string{
		"/etc/peregrine/peregrined.yml": "/labs/x/pe1/peregrined.yml",
		"/etc/peregrine":                "/labs/x/pe1",
		"/etc/frr/frr.conf":             "/abs/frr.conf",
		"/etc/peregrine-other/x":        "",
	} {
		got, _ := topo.HostPath("pe1", dst)
		if got != want {
			t.Errorf("HostPath(pe1, %s) = %q, want %q", dst, got, want)
		}
	}
}

// requireRunner skips where the runner cannot work.
func requireRunner(t *testing.T) {
	t.Helper()
	if err := RequireRoot(); err != nil {
		t.Skip(err)
	}
	StateDir = t.TempDir()
}

// leftovers lists the lab's namespaces.
func leftovers(t *testing.T, lab string) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "clab-"+lab+"-") {
			out = append(out, "netns "+e.Name())
		}
	}
	return out
}

const twoHosts = `name: %s
topology:
  nodes:
    h1: {kind: linux, image: alpine, exec: ["ip addr add 192.168.77.1/24 dev eth1"]}
    h2: {kind: linux, image: alpine, exec: ["ip addr add 192.168.77.2/24 dev eth1", "sleep 600 &"]}
  links:
    - endpoints: ["h1:eth1", "h2:eth1"]
`

func TestDeployInspectDestroy(t *testing.T) {
	requireRunner(t)
	lab := "pgtest" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	topo, err := Load(writeTopo(t, t.TempDir(), strings.ReplaceAll(twoHosts, "%s", lab)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Destroy(lab) })
	ctx := context.Background()
	if _, err := Deploy(ctx, topo, Options{}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", Namespace(lab, "h1"), "ping", "-c", "1", "-W", "2", "192.168.77.2").CombinedOutput(); err != nil {
		t.Fatalf("h1 cannot ping h2 over the link: %v\n%s", err, out)
	}
	st, err := Inspect(lab)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 2 || !st.Nodes[0].Running || !st.Nodes[1].Running {
		t.Errorf("inspect: %+v", st.Nodes)
	}

	// The runner "crashes": its state is gone, a process is still in h2.
	// Deploying again must clean up and work.
	if err := os.RemoveAll(filepath.Join(StateDir, lab)); err != nil {
		t.Fatal(err)
	}
	if _, err := Deploy(ctx, topo, Options{}); err != nil {
		t.Fatalf("redeploy after a crash: %v", err)
	}
	if out, err := exec.Command("ip", "netns", "pids", Namespace(lab, "h2")).Output(); err != nil || len(strings.Fields(string(out))) != 1 {
		t.Errorf("h2 after redeploy runs %q (%v), want the one new sleep", out, err)
	}

	pidsOut, _ := exec.Command("ip", "netns", "pids", Namespace(lab, "h2")).Output()
	if err := Destroy(lab); err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(pidsOut)) {
		var pid int
		if _, err := fmt.Sscan(p, &pid); err == nil && alive(pid) { // a zombie waits for init, but runs no more
			t.Errorf("process %d of h2 still runs after destroy", pid)
		}
	}
	if l := leftovers(t, lab); len(l) > 0 {
		t.Errorf("left after destroy: %v", l)
	}
	if _, err := Inspect(lab); err == nil || !strings.Contains(err.Error(), "not deployed") {
		t.Errorf("inspect after destroy: %v", err)
	}
}

func TestDeployRefusesWithoutRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		// Run ourselves as nobody to see the message.
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv (util-linux) not installed")
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestDeployRefusesWithoutRoot$")
		cmd.Env = append(os.Environ(), "GOCOVERDIR=", "HOME=/tmp")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
		return
	}
	err := RequireRoot()
	if err == nil || !strings.Contains(err.Error(), "needs root") {
		t.Fatalf("RequireRoot as uid %d: %v", os.Geteuid(), err)
	}
	if _, err := Deploy(context.Background(), &Topology{Name: "x"}, Options{}); err == nil {
		t.Fatal("Deploy without root succeeded")
	}
	_ = syscall.Getuid
}
