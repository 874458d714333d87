package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/peregrine-net/peregrine/cmd/internal/showcli"
	"github.com/peregrine-net/peregrine/labs/clab"
)

// labNodes reaches the nodes of a deployed lab, so that one checker
// (check) judges a lab whoever deployed it: the Docker-free runner
// (namespaces, control sockets on this host) or containerlab (containers,
// reached with docker exec).
type labNodes interface {
	// show writes what `peregrine show WORDS [--json]` prints on a PE.
	show(ctx context.Context, pe string, words []string, asJSON bool, w *bytes.Buffer) error
	// run runs argv on a node and returns its combined output.
	run(ctx context.Context, node string, argv ...string) ([]byte, error)
	// down returns nil if the node's daemon runs, else an error carrying
	// the daemon's last output lines.
	down(ctx context.Context, node string) error
	// logs returns the node daemon's output so far.
	logs(ctx context.Context, node string) []byte
	// vtysh runs one vtysh command on an FRR node and returns its output.
	vtysh(ctx context.Context, node, command string) ([]byte, error)
}

// showJSON decodes `peregrine show WORDS --json` on pe into v.
func showJSON(ctx context.Context, n labNodes, pe string, v any, words ...string) error {
	var b bytes.Buffer
	if err := n.show(ctx, pe, words, true, &b); err != nil {
		return err
	}
	return json.Unmarshal(b.Bytes(), v)
}

// netnsNodes is a lab the Docker-free runner (labs/clab) deployed.
type netnsNodes struct {
	lab   string
	nodes map[string]clab.NodeState
}

func newNetnsNodes(st *clab.State) *netnsNodes {
	n := &netnsNodes{lab: st.Name, nodes: map[string]clab.NodeState{}}
	for _, s := range st.Nodes {
		n.nodes[s.Name] = s
	}
	return n
}

func (n *netnsNodes) show(_ context.Context, pe string, words []string, asJSON bool, w *bytes.Buffer) error {
	return showcli.Show(showcli.NewClient(n.nodes[pe].Socket), words, asJSON, w)
}

func (n *netnsNodes) run(ctx context.Context, node string, argv ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", clab.Namespace(n.lab, node)}, argv...)...).CombinedOutput()
}

func (n *netnsNodes) down(_ context.Context, node string) error {
	st, err := clab.Inspect(n.lab)
	if err != nil {
		return err
	}
	for _, s := range st.Nodes {
		if d, down := s.Down(); s.Name == node && down {
			b, _ := os.ReadFile(d.Log)
			return fmt.Errorf("node %s: its daemon %s (pid %d) is not running; its last output lines:\n%s", node, d.Name, d.PID, indentTail(b, 20))
		}
	}
	return nil
}

func (n *netnsNodes) logs(_ context.Context, node string) []byte {
	b, _ := os.ReadFile(n.nodes[node].Log)
	return b
}

func (n *netnsNodes) vtysh(ctx context.Context, node, command string) ([]byte, error) {
	dir := n.nodes[node].VtySocket
	if dir == "" {
		return nil, fmt.Errorf("node %s runs no FRR", node)
	}
	return runVtysh(exec.CommandContext(ctx, clab.DefaultVtysh, "--vty_socket", dir, "-c", command), node, command)
}

// runVtysh runs a vtysh command line and returns its standard output; an
// error carries what vtysh said.
func runVtysh(cmd *exec.Cmd, node, command string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("node %s: vtysh -c %q: %v: %s", node, command, err, strings.TrimSpace(stderr.String()+string(out)))
	}
	return out, nil
}

// dockerNodes is a lab containerlab deployed: node NODE of lab LAB is the
// container clab-LAB-NODE, whose peregrine CLI reaches its peregrined on
// the default socket.
type dockerNodes struct {
	docker string // the docker CLI
	lab    string
}

func (d *dockerNodes) container(node string) string { return "clab-" + d.lab + "-" + node }

func (d *dockerNodes) show(ctx context.Context, pe string, words []string, asJSON bool, w *bytes.Buffer) error {
	argv := append([]string{"exec", d.container(pe), "peregrine", "show"}, words...)
	if asJSON {
		argv = append(argv, "--json")
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, d.docker, argv...)
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker exec %s peregrine show %s: %v: %s", d.container(pe), strings.Join(words, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func (d *dockerNodes) run(ctx context.Context, node string, argv ...string) ([]byte, error) {
	return exec.CommandContext(ctx, d.docker, append([]string{"exec", d.container(node)}, argv...)...).CombinedOutput()
}

func (d *dockerNodes) down(ctx context.Context, node string) error {
	// containerlab restarts a node whose entrypoint exits: a container
	// that has restarted is as dead as a stopped one, though it may look
	// running between two attempts.
	out, err := exec.CommandContext(ctx, d.docker, "inspect", "-f", "{{.State.Running}} {{.State.Restarting}} {{.RestartCount}} {{.State.ExitCode}}", d.container(node)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("node %s: docker inspect %s: %v: %s", node, d.container(node), err, strings.TrimSpace(string(out)))
	}
	f := strings.Fields(string(out))
	if len(f) != 4 {
		return fmt.Errorf("node %s: docker inspect %s: unexpected answer %q", node, d.container(node), out)
	}
	running, restarting, restarts, code := f[0] == "true", f[1] == "true", f[2], f[3]
	var what string
	switch {
	case running && !restarting && restarts == "0":
		return nil
	case running || restarting:
		// Between attempts the exit code of the last one is gone.
		what = "keeps exiting (container " + d.container(node) + " restarted " + restarts + " times)"
	default:
		what = "exited with status " + code + " (container " + d.container(node) + " stopped)"
	}
	return fmt.Errorf("node %s: its daemon %s; its last output lines:\n%s", node, what, indentTail(d.logs(ctx, node), 20))
}

func (d *dockerNodes) vtysh(ctx context.Context, node, command string) ([]byte, error) {
	return runVtysh(exec.CommandContext(ctx, d.docker, "exec", d.container(node), "vtysh", "-c", command), node, command)
}

func (d *dockerNodes) logs(ctx context.Context, node string) []byte {
	out, _ := exec.CommandContext(ctx, d.docker, "logs", d.container(node)).CombinedOutput()
	return out
}

// indentTail returns the last n distinct non-empty lines of b, indented.
// Distinct: a daemon restarted in a loop says the same thing each time.
func indentTail(b []byte, n int) string {
	var lines []string
	seen := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r "); l != "" && !seen[l] {
			seen[l] = true
			lines = append(lines, "  "+l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "  (none)"
	}
	return strings.Join(lines, "\n")
}
