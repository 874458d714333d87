// Package clab deploys a containerlab topology file (*.clab.yml) on a plain
// Linux host, without Docker: one network namespace per node, the links as
// veth pairs named as in the file, each node's exec commands run inside its
// namespace, and the node's daemon started by what its image says it is:
//
//	image mentions "peregrine"  peregrined -c <the node's bind of /etc/peregrine>/peregrined.yml
//	image mentions "frr"        the FRR daemons its bind of /etc/frr/daemons enables (zebra,
//	                            bgpd, staticd...), configured from its /etc/frr/frr.conf;
//	                            without a daemons file, bgpd alone (no zebra)
//	anything else               a plain host: namespace, links and exec only
//
// An FRR node's zebra runs in the node's namespace, so the routes its
// bgpd learns are in that namespace's kernel table, as in a container
// (frr.go).
//
// Binds ("SRC:DST[:ro]", SRC relative to the topology file) are not
// mounted: the runner reads the file a daemon needs from SRC, and Peregrine
// configs name their key files relative to themselves, so the same node
// directory works in a container and here.
//
// The namespaces, veth pairs and daemons are made with labs/netns's
// primitives; the daemons are Detached, so the lab stays up after the
// command that deployed it. Namespaces are named clab-LAB-NODE, as
// containerlab names containers.
// State (logs, control sockets, pids) lives in StateDir/LAB. Destroy finds
// a lab by its namespaces, not only by its state, so it cleans up after a
// runner or a daemon killed with SIGKILL, and Deploy destroys what is left
// of an earlier run of the same lab first.
//
// Deploy returns once every daemon has lived through its first seconds
// (StartupWatch) and every Peregrine node answers on its control socket.
// A daemon that exits before then, as peregrined does on a bad config,
// fails the deploy with a DaemonExitedError carrying its last lines.
package clab

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Topology is the part of containerlab's file format the runner uses.
// Unknown keys are allowed (containerlab has many; JSON schema validation
// of the files is the containerlab package's test).
type Topology struct {
	Name     string `yaml:"name"`
	Topology struct {
		Nodes map[string]Node `yaml:"nodes"`
		Links []Link          `yaml:"links"`
	} `yaml:"topology"`

	// Path is the file's absolute path and Dir its directory, against
	// which binds resolve.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`
}

// Node is one node of the topology.
type Node struct {
	Kind   string            `yaml:"kind"`
	Image  string            `yaml:"image"`
	Binds  []string          `yaml:"binds"`
	Exec   []string          `yaml:"exec"`
	Labels map[string]string `yaml:"labels"`
}

// Labels the demo reads from CE nodes (containerlab passes labels through
// to the container untouched): the addresses the node should reach, the
// addresses to ping them from (one per family: a CE's loopback), and the
// VRF it sits in, for the report.
const (
	LabelPing     = "peregrine.demo/ping"      // comma-separated addresses
	LabelPingFrom = "peregrine.demo/ping-from" // comma-separated addresses
	LabelVRF      = "peregrine.demo/vrf"
)

// Link joins two endpoints, "node:interface".
type Link struct {
	Endpoints []string `yaml:"endpoints"`
}

// Role is what the runner starts in a node.
type Role string

const (
	RolePeregrine Role = "peregrine"
	RoleFRR       Role = "frr"
	RoleHost      Role = "host"
)

// Role says what runs in the node, from its image.
func (n Node) Role() Role {
	img := strings.ToLower(n.Image)
	switch {
	case strings.Contains(img, "peregrine"):
		return RolePeregrine
	case strings.Contains(img, "frr"):
		return RoleFRR
	}
	return RoleHost
}

var (
	labName  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)
	ifName   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	nodeName = labName
)

// maxNamespaceName keeps "clab-LAB-NODE" a sane file name.
const maxNamespaceName = 64

// Load reads and checks a topology file. Every problem is reported, each
// naming the item at fault.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	t, err := parse(data, abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// parse decodes and checks the file's contents; abs is the file's
// absolute path, against whose directory binds resolve.
func parse(data []byte, abs string) (*Topology, error) {
	var t Topology
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, err
	}
	t.Path, t.Dir = abs, filepath.Dir(abs)
	if err := t.check(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *Topology) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !labName.MatchString(t.Name) {
		bad("name: %q: want letters, digits, '-' and '_'", t.Name)
	}
	if len(t.Topology.Nodes) == 0 {
		bad("topology.nodes: no nodes")
	}
	for _, name := range slices.Sorted(maps.Keys(t.Topology.Nodes)) {
		n := t.Topology.Nodes[name]
		p := "topology.nodes." + name
		if !nodeName.MatchString(name) || len(Namespace(t.Name, name)) > maxNamespaceName {
			bad("%s: bad node name %q", p, name)
		}
		if n.Kind != "linux" {
			bad("%s.kind: %q: only linux nodes run without Docker", p, n.Kind)
		}
		for i, b := range n.Binds {
			src, _, err := splitBind(b)
			if err != nil {
				bad("%s.binds[%d]: %v", p, i, err)
				continue
			}
			if _, err := os.Stat(t.hostPath(src)); err != nil {
				bad("%s.binds[%d]: %q: %v", p, i, b, errors.Unwrap(err))
			}
		}
	}
	used := map[string]int{}
	for i, l := range t.Topology.Links {
		p := fmt.Sprintf("topology.links[%d]", i)
		if len(l.Endpoints) != 2 {
			bad("%s.endpoints: want 2 endpoints, got %d", p, len(l.Endpoints))
			continue
		}
		for j, ep := range l.Endpoints {
			node, iface, ok := strings.Cut(ep, ":")
			switch {
			case !ok || !ifName.MatchString(iface):
				bad("%s.endpoints[%d]: %q: want node:interface", p, j, ep)
			case !hasNode(t, node):
				bad("%s.endpoints[%d]: %q: no node %q in topology.nodes", p, j, ep, node)
			default:
				if k, dup := used[ep]; dup {
					bad("%s.endpoints[%d]: %q: interface already used by topology.links[%d]", p, j, ep, k)
				}
				used[ep] = i
			}
		}
	}
	return errors.Join(errs...)
}

func hasNode(t *Topology, name string) bool { _, ok := t.Topology.Nodes[name]; return ok }

// splitBind splits "SRC:DST[:MODE]".
func splitBind(b string) (src, dst string, err error) {
	parts := strings.Split(b, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
		return "", "", fmt.Errorf("%q: want SRC:/DST[:ro|rw]", b)
	}
	return parts[0], parts[1], nil
}

func (t *Topology) hostPath(src string) string {
	if filepath.IsAbs(src) {
		return src
	}
	return filepath.Join(t.Dir, src)
}

// HostPath returns where the file a node sees at dst is on this host,
// through the node's binds (a bind of a directory covers what is under
// it), and whether a bind covers dst.
func (t *Topology) HostPath(node, dst string) (string, bool) {
	for _, b := range t.Topology.Nodes[node].Binds {
		src, d, err := splitBind(b)
		if err != nil {
			continue
		}
		if d == dst {
			return t.hostPath(src), true
		}
		if rel, err := filepath.Rel(d, dst); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(t.hostPath(src), rel), true
		}
	}
	return "", false
}

// Namespace is the network namespace of node in lab.
func Namespace(lab, node string) string { return "clab-" + lab + "-" + node }
