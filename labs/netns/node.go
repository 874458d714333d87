package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// Node is one network namespace in a lab: a router, a host or a switch.
type Node struct {
	name string
	ns   string
	lab  *Lab
}

// Name returns the node's name in the lab ("rr", "pe1").
func (n *Node) Name() string { return n.name }

// Namespace returns the node's network namespace name, as `ip netns` knows it.
func (n *Node) Namespace() string { return n.ns }

// Lab returns the lab the node belongs to.
func (n *Node) Lab() *Lab { return n.lab }

// AddAddr assigns prefix (the address and its subnet, e.g. 10.0.12.1/30) to
// ifname. IPv6 addresses skip duplicate address detection so they are usable
// at once.
//
//	ip -n NS addr add PREFIX dev IFNAME [nodad]
func (n *Node) AddAddr(ifname string, prefix netip.Prefix) error {
	if !prefix.IsValid() {
		return fmt.Errorf("node %s: address on %s: invalid prefix", n.name, ifname)
	}
	args := []string{"-n", n.ns, "addr", "add", prefix.String(), "dev", ifname}
	if prefix.Addr().Is6() {
		args = append(args, "nodad")
	}
	if _, err := ip(args...); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	n.lab.log.Info("address added", "node", n.name, "dev", ifname, "prefix", prefix)
	return nil
}

// Exec runs a command inside the node's namespace and returns its standard
// output. On failure the error carries the command line, the exit status and
// the standard error. The command is killed when ctx is done.
//
//	ip netns exec NS ARGS...
func (n *Node) Exec(ctx context.Context, args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("netns: Exec without a command")
	}
	full := append([]string{"netns", "exec", n.ns}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A command that backgrounds a child still holding our pipes must not
	// hang Exec.
	cmd.WaitDelay = time.Second
	n.lab.log.Debug("exec", "node", n.name, "cmd", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &CommandError{Node: n.name, Args: args, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// CommandError is a command that failed: run in a node (Node set) or on the
// host (Node empty).
type CommandError struct {
	Node   string
	Args   []string
	Err    error // usually an *exec.ExitError
	Stderr string
}

func (e *CommandError) Error() string {
	where := "host"
	if e.Node != "" {
		where = "node " + e.Node
	}
	msg := fmt.Sprintf("%s: %s: %v", where, strings.Join(e.Args, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// ip runs iproute2's ip on the host.
func ip(args ...string) ([]byte, error) {
	cmd := exec.Command("ip", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &CommandError{Args: append([]string{"ip"}, args...), Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}
