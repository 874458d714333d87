package clab

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// StateDir holds one directory per deployed lab: state.json, the nodes'
// logs, the Peregrine nodes' control sockets and each one's own state
// directory (peregrined -state-dir: the persisted ESP sequence numbers of
// its manual keys, which two daemons must never share). /run is a tmpfs,
// emptied at boot together with the namespaces; Destroy removes it too, so
// a lab deployed again starts its manual SAs at 1 under the same keys:
// harmless for a lab's published keys, never for real ones.
var StateDir = "/run/peregrine-lab"

// DefaultBgpd is FRR's bgpd as Debian installs it, run alone (without
// zebra) in an FRR node that binds no daemons file.
const DefaultBgpd = DefaultFRRDir + "/bgpd"

// Where a node's daemon finds its configuration, as in the container.
const (
	PeregrineConfig = "/etc/peregrine/peregrined.yml"
	FRRConfig       = "/etc/frr/frr.conf"
)

// Options configure Deploy.
type Options struct {
	Peregrined string    // the peregrined binary; default: next to this executable, else $PATH
	Bgpd       string    // bgpd run alone (no daemons file); default DefaultBgpd
	FRRDir     string    // where an FRR node's daemons are; default DefaultFRRDir
	Vtysh      string    // the vtysh that applies frr.conf; default DefaultVtysh
	Progress   io.Writer // a line per step; nil: none
}

// State is a deployed lab, as state.json records it.
type State struct {
	Name     string      `json:"name"`
	Topology string      `json:"topology"`
	Dir      string      `json:"dir"`
	Nodes    []NodeState `json:"nodes"`
}

// NodeState is one node of a deployed lab.
type NodeState struct {
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	Namespace string `json:"namespace"`
	// PID and Log are the node's main daemon: peregrined, or FRR's bgpd
	// (zebra if bgpd is off); PID is 0 for a host.
	PID       int    `json:"pid,omitempty"`
	Log       string `json:"log,omitempty"`
	Socket    string `json:"socket,omitempty"`     // peregrined's control socket
	StateDir  string `json:"state-dir,omitempty"`  // peregrined's state.directory
	VtySocket string `json:"vty-socket,omitempty"` // FRR: vtysh --vty_socket VTYSOCKET
	// Daemons are every daemon the node runs, in start order: one for a
	// Peregrine node, zebra, bgpd, staticd... for an FRR node.
	Daemons []Daemon `json:"daemons,omitempty"`
	Running bool     `json:"running"` // every daemon runs; filled in by Inspect
}

// Daemon is one process of a node.
type Daemon struct {
	Name    string `json:"name"` // the program: peregrined, zebra, bgpd...
	PID     int    `json:"pid"`
	Log     string `json:"log"`     // its output
	Running bool   `json:"running"` // filled in by Inspect
}

// Down returns the first of the node's daemons that Inspect found not
// running, if any.
func (n *NodeState) Down() (Daemon, bool) {
	for _, d := range n.Daemons {
		if !d.Running {
			return d, true
		}
	}
	return Daemon{}, false
}

// daemonList is "zebra pid 12, bgpd pid 13" for the progress lines.
func (n *NodeState) daemonList() string {
	var parts []string
	for _, d := range n.Daemons {
		parts = append(parts, fmt.Sprintf("%s pid %d", d.Name, d.PID))
	}
	return strings.Join(parts, ", ")
}

// RequireRoot returns an error saying why the runner cannot work as this
// user.
func RequireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("the lab runner makes network namespaces and veth pairs: it needs root (try sudo)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the lab runner needs iproute2's ip command (apt-get install iproute2)")
	}
	return nil
}

// Deploy creates the lab t describes, after destroying whatever an
// earlier run of the same lab left. On error it destroys what it made.
func Deploy(ctx context.Context, t *Topology, o Options) (st *State, err error) {
	if err := RequireRoot(); err != nil {
		return nil, err
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if err := Destroy(t.Name); err != nil {
		return nil, fmt.Errorf("removing the earlier %s: %w", t.Name, err)
	}
	st = &State{Name: t.Name, Topology: t.Path, Dir: filepath.Join(StateDir, t.Name)}
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = Destroy(t.Name)
			st = nil
		}
	}()
	names := slices.Sorted(maps.Keys(t.Topology.Nodes))
	for _, name := range names {
		ns := Namespace(t.Name, name)
		if err := netns.AddNamespace(ns); err != nil {
			return nil, fmt.Errorf("node %s: %w", name, err)
		}
		st.Nodes = append(st.Nodes, NodeState{Name: name, Role: t.Topology.Nodes[name].Role(), Namespace: ns})
	}
	say("%s: %d nodes", t.Name, len(names))
	for _, l := range t.Topology.Links {
		if err := link(t.Name, l.Endpoints[0], l.Endpoints[1]); err != nil {
			return nil, err
		}
	}
	say("%s: %d links", t.Name, len(t.Topology.Links))
	for _, name := range names {
		for i, c := range t.Topology.Nodes[name].Exec {
			if err := execIn(ctx, st, Namespace(t.Name, name), name, c); err != nil {
				return nil, fmt.Errorf("topology.nodes.%s.exec[%d]: %w", name, i, err)
			}
		}
	}
	var daemons []started
	for i := range st.Nodes {
		n := &st.Nodes[i]
		ds, err := startDaemons(ctx, t, st, n, o)
		if err != nil {
			return nil, err
		}
		if len(ds) > 0 {
			daemons = append(daemons, ds...)
			say("%s: %s started (%s: %s)", t.Name, n.Name, n.Role, n.daemonList())
		}
	}
	// A daemon that exits on a bad configuration must fail the deploy,
	// not leave a lab that looks up with a dead PE in it.
	if err := awaitStartup(ctx, daemons); err != nil {
		return nil, err
	}
	return st, st.save()
}

// link makes the veth pair between two endpoints "node:if".
func link(lab, a, b string) error {
	na, ia, _ := strings.Cut(a, ":")
	nb, ib, _ := strings.Cut(b, ":")
	if err := netns.LinkNamespaces(Namespace(lab, na), ia, Namespace(lab, nb), ib); err != nil {
		return fmt.Errorf("link %s - %s: %w", a, b, err)
	}
	return nil
}

// startDaemons starts the node's daemons, detached from this process:
// the lab outlives the command that deployed it. It returns none for a
// node that runs no daemon.
func startDaemons(ctx context.Context, t *Topology, st *State, n *NodeState, o Options) ([]started, error) {
	switch n.Role {
	case RolePeregrine:
		conf, ok := t.HostPath(n.Name, PeregrineConfig)
		if !ok {
			return nil, fmt.Errorf("topology.nodes.%s.binds: none covers %s, the Peregrine config", n.Name, PeregrineConfig)
		}
		n.Socket = filepath.Join(st.Dir, n.Name+".sock")
		n.StateDir = filepath.Join(st.Dir, n.Name+"-state")
		args := []string{"-c", conf, "-s", n.Socket, "-state-dir", n.StateDir}
		d, err := startOne(st, n, "peregrined", cmp.Or(o.Peregrined, peregrinedBinary()), args, filepath.Join(st.Dir, n.Name+".log"))
		if err != nil {
			return nil, err
		}
		n.PID, n.Log = d.proc.Pid(), d.log
		return []started{*d}, nil
	case RoleFRR:
		conf, ok := t.HostPath(n.Name, FRRConfig)
		if !ok {
			return nil, fmt.Errorf("topology.nodes.%s.binds: none covers %s, the FRR config", n.Name, FRRConfig)
		}
		if daemons, ok := t.HostPath(n.Name, FRRDaemons); ok {
			return startFRR(ctx, st, n, o, conf, daemons)
		}
		return startBgpdAlone(st, n, o, conf)
	}
	return nil, nil
}

// startOne starts one daemon of node n, detached (the lab outlives the
// command that deployed it), its output in logPath, and records it in
// n.Daemons.
func startOne(st *State, n *NodeState, name, path string, args []string, logPath string) (*started, error) {
	p, err := netns.StartProcess(netns.Command{Path: path, Args: args, Dir: st.Dir}, netns.ProcessOptions{
		Name:      n.Name + "/" + name,
		Namespace: n.Namespace,
		LogPath:   logPath,
		Detached:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	n.Daemons = append(n.Daemons, Daemon{Name: name, PID: p.Pid(), Log: logPath})
	return &started{node: n, binary: name, log: logPath, since: time.Now(), proc: p}, nil
}

// peregrinedBinary is the peregrined next to the running executable (as
// make build puts bin/peregrine-lab and bin/peregrined), else from $PATH.
func peregrinedBinary() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "peregrined")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "peregrined"
}

func (st *State) save() error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(st.Dir, "state.json"), append(b, '\n'), 0o644)
}

// Inspect returns the state of a deployed lab, with each daemon's
// liveness.
func Inspect(name string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(StateDir, name, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %s is not deployed (no %s)", name, filepath.Join(StateDir, name))
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("lab %s: state.json: %w", name, err)
	}
	for i := range st.Nodes {
		n := &st.Nodes[i]
		for j := range n.Daemons {
			n.Daemons[j].Running = alive(n.Daemons[j].PID)
		}
		_, down := n.Down()
		n.Running = netns.NamespaceExists(n.Namespace) && !down
	}
	return &st, nil
}

// destroyGrace is how long Destroy gives a lab's daemons between SIGTERM
// and SIGKILL.
const destroyGrace = 5 * time.Second

// Destroy removes every namespace of the lab, with whatever runs in it, and
// its state directory. It needs nothing but the name: a lab whose runner
// or daemons were killed is found by its namespaces.
func Destroy(name string) error {
	if err := RequireRoot(); err != nil {
		return err
	}
	var errs []error
	namespaces, err := netns.Namespaces("clab-" + name + "-")
	errs = append(errs, err)
	for _, ns := range namespaces {
		errs = append(errs, netns.RemoveNamespace(ns, destroyGrace))
	}
	errs = append(errs, os.RemoveAll(filepath.Join(StateDir, name)))
	return errors.Join(errs...)
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is not running: /proc/PID/stat's state field says Z.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// execIn runs one of a node's exec commands with sh inside its namespace.
// Output goes to the node's exec log, not a pipe: a command may leave a
// background process holding its output open.
func execIn(ctx context.Context, st *State, ns, node, command string) error {
	path := filepath.Join(st.Dir, node+"-exec.log")
	logf, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", command)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "sh", "-c", command)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%q: %v (output in %s)", command, err, path)
	}
	return nil
}
