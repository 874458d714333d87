package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sync"
)

// NamePrefix starts the name of every namespace a Lab creates:
// "pgl" + 6 hex digits of lab ID + "-" + node name, e.g. "pgl3fa9c1-rr".
// Sweep removes only names of this shape.
const NamePrefix = "pgl"

// Lab is one topology: its namespaces, links and processes, and a directory
// for their configs and logs. Its methods are safe for concurrent use.
type Lab struct {
	id   string // 6 hex digits, unique among live labs
	dir  string // configs and logs; removed by Close
	log  *slog.Logger
	lock *os.File // flock held for the lab's lifetime; see sweep.go

	mu struct {
		sync.Mutex
		closed bool
		nodes  []*Node
		procs  []*Process
	}
}

// New sweeps stale labs left by killed processes, then creates an empty lab.
// It needs root and iproute2; RequireRoot says which is missing.
func New(log *slog.Logger) (*Lab, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := Sweep(log); err != nil {
		log.Warn("sweeping stale labs", "err", err)
	}
	for range 8 {
		id := randomID()
		lock, err := acquireLock(id)
		if errors.Is(err, os.ErrExist) {
			continue // another live lab drew the same ID
		}
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", NamePrefix+id+"-")
		if err != nil {
			releaseLock(id, lock)
			return nil, fmt.Errorf("lab directory: %w", err)
		}
		l := &Lab{id: id, dir: dir, log: log.With("lab", NamePrefix+id), lock: lock}
		l.log.Info("lab created", "dir", dir)
		return l, nil
	}
	return nil, errors.New("netns: no free lab ID after 8 tries")
}

func randomID() string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ID returns the lab's 6-hex-digit identifier, part of every namespace name.
func (l *Lab) ID() string { return l.id }

// Dir returns the lab's directory, where drivers write configs and processes
// write logs. Close removes it.
func (l *Lab) Dir() string { return l.dir }

// Logger returns the lab's logger, for drivers that run inside it.
func (l *Lab) Logger() *slog.Logger { return l.log }

var nodeName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,19}$`)

// AddNode creates a namespace for a node named name (lower-case letters,
// digits and '-', at most 20 characters, unique in the lab) and brings its
// loopback up.
func (l *Lab) AddNode(name string) (*Node, error) {
	if !nodeName.MatchString(name) {
		return nil, fmt.Errorf("node name %q: want [a-z0-9][a-z0-9-]{0,19}", name)
	}
	n := &Node{name: name, ns: NamePrefix + l.id + "-" + name, lab: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil, errClosed
	}
	if slices.ContainsFunc(l.mu.nodes, func(o *Node) bool { return o.name == name }) {
		return nil, fmt.Errorf("node %q already exists in the lab", name)
	}
	if err := AddNamespace(n.ns); err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	l.mu.nodes = append(l.mu.nodes, n)
	l.log.Info("node added", "node", name, "netns", n.ns)
	return n, nil
}

// Nodes returns the lab's nodes in the order they were added.
func (l *Lab) Nodes() []*Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.mu.nodes)
}

// Processes returns every process started in the lab, running or not, in
// start order; a test adapter prints their logs when a test fails.
func (l *Lab) Processes() []*Process {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.mu.procs)
}

// Link joins a and b with a veth pair named aIf in a and bIf in b, both up.
// Interface names follow the kernel's rules (at most 15 bytes).
//
//	ip link add aIf netns A type veth peer name bIf netns B
func (l *Lab) Link(a *Node, aIf string, b *Node, bIf string) error {
	if a.lab != l || b.lab != l {
		return errors.New("netns: Link across labs")
	}
	if l.isClosed() {
		return errClosed
	}
	if err := LinkNamespaces(a.ns, aIf, b.ns, bIf); err != nil {
		return fmt.Errorf("link %s:%s-%s:%s: %w", a.name, aIf, b.name, bIf, err)
	}
	l.log.Info("link added", "a", a.name+":"+aIf, "b", b.name+":"+bIf)
	return nil
}

var errClosed = errors.New("netns: lab is closed")

func (l *Lab) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.closed
}

// Close stops every process (SIGTERM, then SIGKILL), kills anything else
// still running in the lab's namespaces, deletes the namespaces (and with
// them the veth pairs) and the lab's directory. It returns every error it
// met but always tries every step; calling it again does nothing.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	nodes, procs := l.mu.nodes, l.mu.procs
	l.mu.Unlock()

	var errs []error
	for _, p := range slices.Backward(procs) {
		if err := p.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range nodes {
		if err := RemoveNamespace(n.ns, 0); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(l.dir); err != nil {
		errs = append(errs, err)
	}
	releaseLock(l.id, l.lock)
	l.log.Info("lab closed", "nodes", len(nodes), "processes", len(procs))
	return errors.Join(errs...)
}
