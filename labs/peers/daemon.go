package peers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// daemon is what every driver shares: where it runs, its directory of
// config, sockets and pid file, and its supervised process.
type daemon struct {
	name string // "frr@rr"
	node *netns.Node
	dir  string
	proc *netns.Process
}

// newDaemon creates the daemon's directory, LABDIR/NODE-KIND.
func newDaemon(node *netns.Node, kind string) (daemon, error) {
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-"+kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return daemon{}, err
	}
	return daemon{name: kind + "@" + node.Name(), node: node, dir: dir}, nil
}

// Name returns "KIND@NODE".
func (d *daemon) Name() string { return d.name }

// Node returns the node the daemon runs in.
func (d *daemon) Node() *netns.Node { return d.node }

// Dir returns the directory holding the daemon's config and sockets.
func (d *daemon) Dir() string { return d.dir }

// Process returns the supervised daemon process.
func (d *daemon) Process() *netns.Process { return d.proc }

// Stop stops the daemon (Lab.Close does it too).
func (d *daemon) Stop() error { return d.proc.Stop() }

func (d *daemon) writeFile(name, body string) (string, error) {
	p := filepath.Join(d.dir, name)
	return p, os.WriteFile(p, []byte(body), 0o644)
}

// errExited stops a wait: the daemon is gone and will not come up.
var errExited = errors.New("daemon exited")

// waitUp polls ready until it succeeds or ctx ends, and gives up at once if
// the daemon exits (a config error, a port in use), quoting its log.
func (d *daemon) waitUp(ctx context.Context, ready func(context.Context) error) error {
	var exitErr error
	err := Eventually(ctx, func(ctx context.Context) error {
		if exited, err := d.proc.Exited(); exited {
			exitErr = fmt.Errorf("%s: %w (%v) during start-up; log:\n%s", d.name, errExited, err, d.proc.LogTail(30))
			return nil
		}
		return ready(ctx)
	})
	if exitErr != nil {
		return exitErr
	}
	if err != nil {
		return fmt.Errorf("%s did not come up: %w; log:\n%s", d.name, err, d.proc.LogTail(30))
	}
	return nil
}

// runHost runs a control program (vtysh, birdc) on the host: they reach
// their daemons through Unix sockets in the lab's directory, so they need
// no namespace. It returns standard output; errors carry standard error.
func runHost(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &netns.CommandError{Args: append([]string{name}, args...), Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}
