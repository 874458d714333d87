package clab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds topology files to the parser: it must never panic, and a
// topology it accepts must hold what Deploy relies on without checking
// again: sane lab and node names, namespaces of bounded length, links of
// two endpoints naming existing nodes, and no interface used twice.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../containerlab/*/*.clab.yml")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {kind: linux}\n  links:\n    - endpoints: [a:eth1, b:eth1]\n"))
	dir := f.TempDir()
	abs := filepath.Join(dir, "t.clab.yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := parse(data, abs)
		if err != nil {
			return
		}
		if !labName.MatchString(topo.Name) {
			t.Fatalf("accepted lab name %q", topo.Name)
		}
		if len(topo.Topology.Nodes) == 0 {
			t.Fatal("accepted a topology without nodes")
		}
		for name, n := range topo.Topology.Nodes {
			if !nodeName.MatchString(name) || len(Namespace(topo.Name, name)) > maxNamespaceName {
				t.Fatalf("accepted node name %q", name)
			}
			if n.Kind != "linux" {
				t.Fatalf("accepted kind %q", n.Kind)
			}
		}
		used := map[string]bool{}
		for _, l := range topo.Topology.Links {
			if len(l.Endpoints) != 2 {
				t.Fatalf("accepted link %v", l.Endpoints)
			}
			for _, ep := range l.Endpoints {
				node, iface, ok := strings.Cut(ep, ":")
				if !ok || !ifName.MatchString(iface) || !hasNode(topo, node) || used[ep] {
					t.Fatalf("accepted endpoint %q", ep)
				}
				used[ep] = true
			}
		}
	})
}
