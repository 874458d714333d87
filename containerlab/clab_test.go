package containerlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/labs/clab"
)

// The containerlab release whose schema the topologies are checked against.
// It is fetched from the module proxy by the test, never required by
// go.mod: Peregrine does not build against containerlab.
const (
	clabModule  = "github.com/srl-labs/containerlab"
	clabVersion = "v0.60.0"
	clabSchema  = "schemas/clab.schema.json"
)

// peregrineConfDir is where a Peregrine node's directory is bound.
const peregrineConfDir = "/etc/peregrine"

// topology is a topology file as the Docker-free runner reads it
// (labs/clab: one parser for both), with its bytes for the schema check.
type topology struct {
	spec *clab.Topology // as labs/clab's Load read it
	file string         // the .clab.yml file, relative to this directory
	raw  []byte
}

// loadTopology reads and checks one topology file with labs/clab's Load:
// what the runner would refuse to deploy fails the test.
func loadTopology(file string) (*topology, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	topo, err := clab.Load(file)
	if err != nil {
		return nil, err
	}
	return &topology{spec: topo, file: file, raw: raw}, nil
}

// loadTopologies reads every */*.clab.yml below the package directory.
func loadTopologies(t *testing.T) []*topology {
	t.Helper()
	paths, err := filepath.Glob("*/*.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no */*.clab.yml topology files")
	}
	var out []*topology
	for _, p := range paths {
		topo, err := loadTopology(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, topo)
	}
	return out
}

// clabSchemaPath downloads containerlab's module with the go command and
// returns the path of its topology schema, or skips the test.
func clabSchemaPath(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("cannot fetch containerlab's schema: no go command in PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", clabModule+"@"+clabVersion)
	// Outside this module, so that nothing is added to its go.mod or go.sum.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil || info.Error != "" || info.Dir == "" {
		t.Skipf("cannot fetch containerlab's schema (go mod download %s@%s): %v %s %s",
			clabModule, clabVersion, err, info.Error, strings.TrimSpace(stderr.String()))
	}
	return filepath.Join(info.Dir, filepath.FromSlash(clabSchema))
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := clabSchemaPath(t)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7) // the schema says draft-07 itself
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	return s
}

// validateYAML converts a YAML document to the JSON data model and checks
// it against s.
func validateYAML(s *jsonschema.Schema, raw []byte) error {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	// Through encoding/json: YAML that has no JSON equivalent (a mapping
	// with non-string keys) is an error here rather than a surprise.
	j, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("no JSON equivalent: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestTopologySchema(t *testing.T) {
	topos := loadTopologies(t)
	s := compileSchema(t)
	for _, topo := range topos {
		t.Run(topo.file, func(t *testing.T) {
			if err := validateYAML(s, topo.raw); err != nil {
				t.Errorf("%s does not match containerlab %s's schema:\n%v", topo.file, clabVersion, err)
			}
		})
	}
}

// TestTopologySchemaRejects shows the schema validation can fail: each of
// these is wrong in one way and must be refused.
func TestTopologySchemaRejects(t *testing.T) {
	s := compileSchema(t)
	const ok = `
name: x
topology:
  nodes:
    a: {kind: linux, image: alpine:3.20}
    b: {kind: linux, image: alpine:3.20}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
`
	if err := validateYAML(s, []byte(ok)); err != nil {
		t.Fatalf("the valid base case is refused: %v", err)
	}
	// want is part of the validator's explanation, so that each case is
	// refused for its own reason and not for another mistake.
	for _, c := range []struct{ name, doc, want string }{
		{"kind is a number", strings.Replace(ok, "{kind: linux, image", "{kind: 42, image", 1),
			"at '/topology/nodes/a/kind': got number, want string"},
		{"unknown kind", strings.Replace(ok, "{kind: linux, image", "{kind: peregrine, image", 1),
			"at '/topology/nodes/a/kind': value must be one of"},
		{"unknown top-level key", ok + "nodez: {}\n",
			"additional properties 'nodez' not allowed"},
		{"unknown node key", strings.Replace(ok, "image: alpine:3.20}", "image: alpine:3.20, bindz: []}", 1),
			"additional properties 'bindz' not allowed"},
		{"exec is not a list", strings.Replace(ok, "image: alpine:3.20}", "image: alpine:3.20, exec: ip link}", 1),
			"at '/topology/nodes/a/exec': got string, want array"},
		{"endpoint without a colon", strings.Replace(ok, `"b:eth1"`, `"b"`, 1),
			"at '/topology/links/0/endpoints/1': 'b' does not match pattern"},
		{"single endpoint", strings.Replace(ok, `["a:eth1", "b:eth1"]`, `["a:eth1"]`, 1),
			"at '/topology/links/0/endpoints': minItems"},
		{"name is not a string", strings.Replace(ok, "name: x", "name: {a: 1}", 1),
			"at '/name': got object, want string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := validateYAML(s, []byte(c.doc))
			switch {
			case err == nil:
				t.Errorf("accepted:\n%s", c.doc)
			case !strings.Contains(err.Error(), c.want):
				t.Errorf("refused, but not with %q:\n%v", c.want, err)
			default:
				t.Logf("refused as expected: %s", c.want)
			}
		})
	}
}

// checkLinks reports what labs/clab's Load lets through but containerlab
// would not run as meant: a link on eth0 (containerlab's management
// interface) and exec commands that address an interface no link creates.
// Load has already refused malformed endpoints, endpoints naming no node
// and interfaces used twice.
func checkLinks(topo *topology) []error {
	var errs []error
	linked := map[string]bool{}
	for i, l := range topo.spec.Topology.Links {
		for _, ep := range l.Endpoints {
			linked[ep] = true
			if _, ifname, _ := strings.Cut(ep, ":"); ifname == "eth0" {
				errs = append(errs, fmt.Errorf("links[%d]: endpoint %q: eth0 is containerlab's management interface", i, ep))
			}
		}
	}
	for _, name := range sortedKeys(topo.spec.Topology.Nodes) {
		for _, a := range execAddrs(topo.spec.Topology.Nodes[name].Exec) {
			switch {
			case a.dev == "":
				errs = append(errs, fmt.Errorf("%s: exec %q: no dev", name, a.cmd))
			case a.dev != "lo" && !linked[name+":"+a.dev]:
				errs = append(errs, fmt.Errorf("%s: exec %q: no link creates %s", name, a.cmd, a.dev))
			}
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func TestLinks(t *testing.T) {
	for _, topo := range loadTopologies(t) {
		t.Run(topo.file, func(t *testing.T) {
			if len(topo.spec.Topology.Nodes) == 0 || len(topo.spec.Topology.Links) == 0 {
				t.Fatal("no nodes or no links")
			}
			for _, err := range checkLinks(topo) {
				t.Error(err)
			}
		})
	}
}

// TestLinksRejects shows that labs/clab's Load and checkLinks can fail.
func TestLinksRejects(t *testing.T) {
	write := func(doc string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "bad.clab.yml")
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, err := loadTopology(write(`
name: bad
topology:
  nodes:
    a: {kind: linux}
    b: {kind: linux}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["a:eth1", "c:eth1"]
    - endpoints: ["b:eth2", "b"]
`))
	for _, want := range []string{
		`"a:eth1": interface already used by topology.links[0]`,
		`no node "c" in topology.nodes`,
		`"b": want node:interface`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load: no error %q in %v", want, err)
		}
	}

	topo, err := loadTopology(write(`
name: bad
topology:
  nodes:
    a: {kind: linux, exec: ["ip addr add 10.0.0.1/24 dev eth7"]}
    b: {kind: linux}
  links:
    - endpoints: ["a:eth1", "b:eth0"]
`))
	if err != nil {
		t.Fatal(err)
	}
	errs := checkLinks(topo)
	for _, want := range []string{
		`"b:eth0": eth0 is containerlab's management interface`,
		`no link creates eth7`,
	} {
		if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), want) }) {
			t.Errorf("no error %q among %v", want, errs)
		}
	}
}

// execAddr is an address an exec command assigns: "ip addr add P dev D".
type execAddr struct {
	prefix netip.Prefix
	dev    string
	cmd    string
}

func execAddrs(cmds []string) []execAddr {
	var out []execAddr
	for _, c := range cmds {
		f := strings.Fields(c)
		if len(f) == 0 || f[0] != "ip" {
			continue
		}
		f = slices.DeleteFunc(f[1:], func(s string) bool { return s == "-4" || s == "-6" })
		if len(f) < 3 || (f[0] != "addr" && f[0] != "address" && f[0] != "a") || f[1] != "add" {
			continue
		}
		p, err := netip.ParsePrefix(f[2])
		if err != nil {
			continue
		}
		a := execAddr{prefix: p, cmd: c}
		if i := slices.Index(f, "dev"); i >= 0 && i+1 < len(f) {
			a.dev = f[i+1]
		}
		out = append(out, a)
	}
	return out
}

// frrAddrs returns the addresses an FRR configuration assigns with
// "interface IF" / " ip address P" (or "ipv6 address").
func frrAddrs(conf string) []execAddr {
	var out []execAddr
	dev := ""
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "interface":
			dev = f[1]
		case len(f) >= 1 && (f[0] == "exit" || f[0] == "!"):
			dev = ""
		case dev != "" && len(f) == 3 && (f[0] == "ip" || f[0] == "ipv6") && f[1] == "address":
			if p, err := netip.ParsePrefix(f[2]); err == nil {
				out = append(out, execAddr{prefix: p, dev: dev, cmd: strings.TrimSpace(line)})
			}
		}
	}
	return out
}

// pe is a Peregrine node of a topology with its loaded configuration.
type pe struct {
	name string
	cfg  *config.Config
}

// loadPEs loads the peregrined.yml of every node that binds a directory
// to /etc/peregrine, as `peregrined -check -c` does. Git does not keep
// mode 0600, which peregrined requires of key files, so each directory is
// copied with its files made 0600 first.
func loadPEs(t *testing.T, topo *topology) []pe {
	t.Helper()
	var out []pe
	for _, name := range sortedKeys(topo.spec.Topology.Nodes) {
		src, ok := topo.spec.HostPath(name, peregrineConfDir)
		if !ok {
			continue
		}
		dir := filepath.Join(t.TempDir(), name)
		if err := copyDir(dir, src); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cfg, err := config.Load(filepath.Join(dir, "peregrined.yml"))
		if err != nil {
			t.Errorf("%s: %s/peregrined.yml: %v", name, src, err)
			continue
		}
		out = append(out, pe{name: name, cfg: cfg})
	}
	return out
}

func copyDir(dst, src string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s: only plain files are expected in a node's directory", filepath.Join(src, e.Name()))
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func TestPeregrineConfigs(t *testing.T) {
	for _, topo := range loadTopologies(t) {
		t.Run(topo.file, func(t *testing.T) {
			pes := loadPEs(t, topo)
			if t.Failed() {
				return
			}
			if len(pes) == 0 {
				t.Fatalf("no node binds a directory to %s", peregrineConfDir)
			}
			for _, err := range checkPEs(topo, pes) {
				t.Error(err)
			}
		})
	}
}

// checkPEs checks the PEs' configurations against each other and against
// the topology.
func checkPEs(topo *topology, pes []pe) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// Where each address is assigned: node names by address, and the
	// addresses of each "node:interface".
	assigned := map[netip.Addr][]string{}
	addrsOn := map[string][]netip.Addr{}
	frrConfs := map[string]string{}
	for _, name := range sortedKeys(topo.spec.Topology.Nodes) {
		addrs := execAddrs(topo.spec.Topology.Nodes[name].Exec)
		if src, ok := topo.spec.HostPath(name, "/etc/frr/frr.conf"); ok {
			b, err := os.ReadFile(src)
			if err != nil {
				bad("%s: %v", name, err)
			}
			frrConfs[name] = string(b)
			addrs = append(addrs, frrAddrs(string(b))...)
		}
		for _, a := range addrs {
			assigned[a.prefix.Addr()] = append(assigned[a.prefix.Addr()], name)
			addrsOn[name+":"+a.dev] = append(addrsOn[name+":"+a.dev], a.prefix.Addr())
		}
	}
	endpoints := map[string]bool{}
	peerOf := map[string]string{} // "node:if" -> the other end's "node:if"
	for _, l := range topo.spec.Topology.Links {
		for _, ep := range l.Endpoints {
			endpoints[ep] = true
		}
		if len(l.Endpoints) == 2 {
			peerOf[l.Endpoints[0]], peerOf[l.Endpoints[1]] = l.Endpoints[1], l.Endpoints[0]
		}
	}
	byLocal := map[netip.Addr]pe{}
	for _, p := range pes {
		if a := p.cfg.IPsec.LocalAddress; a.IsValid() {
			byLocal[a] = p
		}
	}

	for _, p := range pes {
		c := p.cfg
		on := func(a netip.Addr) bool { return slices.Contains(assigned[a], p.name) }
		for _, v := range c.VRFs {
			for _, ifn := range v.Interfaces {
				if !endpoints[p.name+":"+ifn] {
					bad("%s: vrf %s: interface %s is not a link endpoint", p.name, v.Name, ifn)
				}
			}
			for _, n := range v.Neighbors {
				errs = append(errs, checkCE(p, v, n, peerOf, addrsOn, frrConfs)...)
			}
		}
		if a := c.IPsec.LocalAddress; a.IsValid() && !on(a) {
			bad("%s: ipsec.local-address %s is not assigned on %s", p.name, a, p.name)
		}
		for _, n := range c.BGP.Neighbors {
			if n.LocalAddress.IsValid() && !on(n.LocalAddress) {
				bad("%s: neighbor %s: local-address %s is not assigned on %s", p.name, n.Address, n.LocalAddress, p.name)
			}
			if len(assigned[n.Address]) == 0 {
				bad("%s: neighbor %s: no node has that address", p.name, n.Address)
			}
			// A session to another PE must be configured on it too.
			if other, ok := byLocal[n.Address]; ok {
				back := slices.IndexFunc(other.cfg.BGP.Neighbors, func(m config.Neighbor) bool { return m.Address == n.LocalAddress })
				if back < 0 {
					bad("%s: neighbor %s (%s) has no neighbor %s", p.name, n.Address, other.name, n.LocalAddress)
				}
			}
		}
		for _, tu := range c.IPsec.Tunnels {
			other, ok := byLocal[tu.Remote]
			if !ok {
				bad("%s: tunnel to %s: no PE has that ipsec.local-address", p.name, tu.Remote)
				continue
			}
			i := slices.IndexFunc(other.cfg.IPsec.Tunnels, func(u config.Tunnel) bool { return u.Remote == c.IPsec.LocalAddress })
			if i < 0 {
				bad("%s: tunnel to %s (%s): it has no tunnel back to %s", p.name, tu.Remote, other.name, c.IPsec.LocalAddress)
				continue
			}
			// This side's outbound SA is the other side's inbound one
			// (the reverse direction is checked from the other PE).
			in := other.cfg.IPsec.Tunnels[i].In
			switch {
			case tu.Out.SPI != in.SPI:
				bad("%s: tunnel to %s: out.spi %d, but %s's in.spi is %d", p.name, other.name, tu.Out.SPI, other.name, in.SPI)
			case tu.Out.Cipher != in.Cipher:
				bad("%s: tunnel to %s: out.cipher %s, but %s's in.cipher is %s", p.name, other.name, tu.Out.Cipher, other.name, in.Cipher)
			case !bytes.Equal(tu.Out.Key.Bytes(), in.Key.Bytes()):
				bad("%s: tunnel to %s: out key (%s) differs from %s's in key (%s)", p.name, other.name, tu.Out.KeyFile, other.name, in.KeyFile)
			}
			if bytes.Equal(tu.Out.Key.Bytes(), tu.In.Key.Bytes()) {
				bad("%s: tunnel to %s: the same key in both directions", p.name, other.name)
			}
		}
	}
	return errs
}

// checkCE checks a PE's CE session against the topology: the CE's
// address is on the node at the other end of one of the VRF's
// interfaces, and if that node is an FRR router, its frr.conf runs the
// AS the PE expects and has a session back to the PE's address on that
// link, of the same family, with the PE's AS.
func checkCE(p pe, v config.VRF, n config.CENeighbor, peerOf map[string]string, addrsOn map[string][]netip.Addr, frrConfs map[string]string) []error {
	var errs []error
	for _, ifn := range v.Interfaces {
		peer := peerOf[p.name+":"+ifn]
		if !slices.Contains(addrsOn[peer], n.Address) {
			continue
		}
		node, _, _ := strings.Cut(peer, ":")
		conf, ok := frrConfs[node]
		if !ok {
			return nil // a plain host: nothing to hold a session
		}
		as, sessions := frrBGP(conf)
		if as != n.ASN {
			errs = append(errs, fmt.Errorf("%s: vrf %s: neighbor %s asn %d, but %s runs router bgp %d", p.name, v.Name, n.Address, n.ASN, node, as))
		}
		back := false
		for _, a := range addrsOn[p.name+":"+ifn] {
			if a.Is4() == n.Address.Is4() && sessions[a] == p.cfg.Router.ASN {
				back = true
			}
		}
		if !back {
			errs = append(errs, fmt.Errorf("%s: vrf %s: neighbor %s (%s) has no neighbor on %s's %s addresses %v with remote-as %d", p.name, v.Name, n.Address, node, p.name, ifn, addrsOn[p.name+":"+ifn], p.cfg.Router.ASN))
		}
		return errs
	}
	return []error{fmt.Errorf("%s: vrf %s: neighbor %s is on no node linked to the VRF's interfaces %v", p.name, v.Name, n.Address, v.Interfaces)}
}

// frrBGP returns the AS of an FRR configuration's "router bgp" and its
// neighbors' remote-as, by address.
func frrBGP(conf string) (as uint32, remote map[netip.Addr]uint32) {
	remote = map[netip.Addr]uint32{}
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "router" && f[1] == "bgp":
			_, _ = fmt.Sscan(f[2], &as)
		case len(f) == 4 && f[0] == "neighbor" && f[2] == "remote-as":
			a, err := netip.ParseAddr(f[1])
			var asn uint32
			if _, serr := fmt.Sscan(f[3], &asn); err == nil && serr == nil {
				remote[a] = asn
			}
		}
	}
	return as, remote
}

// TestPeregrineConfigsRejects shows checkPEs and config.Load can fail.
func TestPeregrineConfigsRejects(t *testing.T) {
	topo, err := loadTopology(filepath.Join("l3vpn-ipsec", "l3vpn-ipsec.clab.yml"))
	if err != nil {
		t.Fatal(err)
	}
	pes := loadPEs(t, topo)
	if t.Failed() || len(pes) != 2 {
		t.Fatalf("want pe1 and pe2, got %d PEs", len(pes))
	}
	if errs := checkPEs(topo, pes); len(errs) > 0 {
		t.Fatalf("the base case fails: %v", errs)
	}
	// Swap pe2's keys: each direction's keys no longer match.
	pe2 := *pes[1].cfg
	pe2.IPsec.Tunnels = slices.Clone(pe2.IPsec.Tunnels)
	pe2.IPsec.Tunnels[0].In, pe2.IPsec.Tunnels[0].Out = pe2.IPsec.Tunnels[0].Out, pe2.IPsec.Tunnels[0].In
	pe2.VRFs = slices.Clone(pe2.VRFs)
	pe2.VRFs[0].Interfaces = []string{"eth9"}
	// blue's CE sessions: one at the wrong AS, one to an address no CE has.
	pe2.VRFs[1].Neighbors = slices.Clone(pe2.VRFs[1].Neighbors)
	pe2.VRFs[1].Neighbors[0].ASN = 65101
	pe2.VRFs[1].Neighbors[1].Address = netip.MustParseAddr("fd00:2::9")
	// pe1 in another AS: its CEs have no session to it.
	pe1 := *pes[0].cfg
	pe1.Router.ASN = 65001
	errs := checkPEs(topo, []pe{{name: "pe1", cfg: &pe1}, {name: "pe2", cfg: &pe2}})
	for _, want := range []string{"pe1: vrf red: neighbor fd00:1::2 (ce-red-1) has no neighbor on pe1's eth1 addresses [10.1.0.1 fd00:1::1] with remote-as 65001", "pe1: tunnel to pe2: out.spi", "pe2: tunnel to pe1: out.spi", "interface eth9 is not a link endpoint",
		"pe2: vrf blue: neighbor 10.2.0.2 asn 65101, but ce-blue-2 runs router bgp 65100", "pe2: vrf blue: neighbor fd00:2::9 is on no node linked to the VRF's interfaces [eth2]",
		"pe2: vrf red: neighbor 10.2.0.2 is on no node linked to the VRF's interfaces [eth9]"} {
		if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), want) }) {
			t.Errorf("no error %q among %v", want, errs)
		}
	}

	// A key file readable by others is refused by config.Load, as by
	// peregrined: the reason the test copies the directories.
	dir := t.TempDir()
	if err := copyDir(dir, filepath.Join("l3vpn-ipsec", "pe1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "to-pe2.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(filepath.Join(dir, "peregrined.yml"))
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("config.Load with a 0644 key file: %v, want a mode error", err)
	}
}

// TestFRRConfigs has FRR parse the configuration files bound into FRR
// nodes (vtysh --dryrun), where FRR is installed.
func TestFRRConfigs(t *testing.T) {
	vtysh, err := exec.LookPath("vtysh")
	if err != nil {
		t.Skip("vtysh not installed (apt-get install frr): FRR configurations not checked")
	}
	n := 0
	for _, topo := range loadTopologies(t) {
		for _, name := range sortedKeys(topo.spec.Topology.Nodes) {
			conf, ok := topo.spec.HostPath(name, "/etc/frr/frr.conf")
			if !ok {
				continue
			}
			n++
			t.Run(topo.file+"/"+name, func(t *testing.T) {
				out, err := exec.Command(vtysh, "--dryrun", "-f", conf).CombinedOutput()
				if err != nil {
					t.Errorf("vtysh --dryrun -f %s: %v\n%s", conf, err, out)
				}
				daemons, ok := topo.spec.HostPath(name, "/etc/frr/daemons")
				if !ok {
					t.Fatalf("%s binds frr.conf but no daemons file", name)
				}
				b, err := os.ReadFile(daemons)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(strings.Fields(string(b)), "bgpd=yes") {
					t.Errorf("%s does not start bgpd (bgpd=yes)", daemons)
				}
			})
		}
	}
	if n == 0 {
		t.Skip("no FRR nodes")
	}
}
