package clab

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// An FRR node runs as FRR's container image runs it, minus watchfrr:
//
//	zebra    -f /dev/null -z DIR/zserv.api --vty_socket DIR -i DIR/zebra.pid ...
//	bgpd     (the same options: it finds zebra at DIR/zserv.api)
//	staticd  ...
//	vtysh --vty_socket DIR -f frr.conf        (as frrinit.sh's vtysh -b)
//
// one process per daemon the node's daemons file enables (ParseDaemons),
// each in the node's namespace, so the routes zebra installs land in the
// node's own kernel table. DIR is StateDir/LAB/NODE: each node has its own
// zserv socket, vty sockets and pid files, so nodes never reach each
// other's daemons and the host's FRR (/run/frr) is left alone. Each
// daemon reads no configuration of its own (-f /dev/null, not the host's
// /etc/frr); the integrated frr.conf is applied through vtysh once every
// daemon answers on its vty socket, and a command vtysh refuses fails the
// deploy. Options are the runner's (*_options lines are not read): no
// TCP vty (-P 0), the log on standard output into NODE-DAEMON.log, and
// uid root (-u root) with the vty group as group (-g frrvty), which FRR
// requires of the user it runs as.
//
// A node whose image is FRR but that binds no daemons file runs bgpd alone
// without zebra, as labs/peers does (startBgpdAlone).

// Defaults for Options.FRRDir and Options.Vtysh: where Debian and FRR's
// container image install them.
const (
	DefaultFRRDir = "/usr/lib/frr"
	DefaultVtysh  = "vtysh"
)

// frrVtyGroup is the group FRR's Debian build checks its user belongs to
// (--enable-vty-group=frrvty).
const frrVtyGroup = "frrvty"

// VtyWait bounds the wait for an FRR node's daemons to answer on their vty
// sockets before its configuration is applied.
var VtyWait = 20 * time.Second

// FRRConfigError is an FRR node whose frr.conf vtysh refused: Lines are
// vtysh's own words (the line and the command at fault).
type FRRConfigError struct {
	Node  string
	Conf  string // the file, on this host
	Err   error
	Lines []string
}

func (e *FRRConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s: vtysh -f %s: %v", e.Node, e.Conf, e.Err)
	for _, l := range e.Lines {
		b.WriteString("\n  " + l)
	}
	return b.String()
}

func (e *FRRConfigError) Unwrap() error { return e.Err }

// startFRR starts the daemons an FRR node's daemons file enables and
// applies its frr.conf. On error the caller destroys the lab, daemons
// and all.
func startFRR(ctx context.Context, st *State, n *NodeState, o Options, conf, daemonsFile string) ([]started, error) {
	b, err := os.ReadFile(daemonsFile)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", n.Name, FRRDaemons, err)
	}
	names, err := ParseDaemons(b)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s (%s): %w", n.Name, FRRDaemons, daemonsFile, err)
	}
	dir, err := frrDir(st, n)
	if err != nil {
		return nil, err
	}
	bin := cmp.Or(o.FRRDir, DefaultFRRDir)
	var ds []started
	for _, name := range names {
		args := []string{"-u", "root", "-g", frrVtyGroup, "-P", "0", "--log", "stdout", "-f", os.DevNull,
			"-i", filepath.Join(dir, name+".pid"), "--vty_socket", dir, "-z", filepath.Join(dir, "zserv.api")}
		d, err := startOne(st, n, name, filepath.Join(bin, name), args, frrLog(st, n, name))
		if err != nil {
			return nil, err
		}
		ds = append(ds, *d)
	}
	main := ds[0]
	for _, d := range ds {
		if d.binary == "bgpd" {
			main = d
		}
	}
	n.PID, n.Log = main.proc.Pid(), main.log
	if err := awaitVty(ctx, ds, dir); err != nil {
		return nil, err
	}
	if err := applyFRRConfig(ctx, st, n, cmp.Or(o.Vtysh, DefaultVtysh), conf); err != nil {
		return nil, err
	}
	return ds, nil
}

// startBgpdAlone runs bgpd without zebra (-Z) from the bound frr.conf: an
// FRR node without a daemons file, a route reflector that installs no
// routes.
func startBgpdAlone(st *State, n *NodeState, o Options, conf string) ([]started, error) {
	dir, err := frrDir(st, n)
	if err != nil {
		return nil, err
	}
	path := cmp.Or(o.Bgpd, DefaultBgpd)
	// -Z: no zebra; -S: stay root; -P 0: no TCP vty (see labs/peers).
	args := []string{"-Z", "-S", "-P", "0", "--log", "stdout", "-f", conf, "-i", filepath.Join(dir, "bgpd.pid"), "--vty_socket", dir}
	d, err := startOne(st, n, filepath.Base(path), path, args, frrLog(st, n, filepath.Base(path)))
	if err != nil {
		return nil, err
	}
	n.PID, n.Log = d.proc.Pid(), d.log
	return []started{*d}, nil
}

// frrDir makes the node's directory of sockets and pid files.
func frrDir(st *State, n *NodeState) (string, error) {
	dir := filepath.Join(st.Dir, n.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	n.VtySocket = dir
	return dir, nil
}

// awaitVty waits until every daemon answers on its vty socket in dir. A
// daemon that exits first fails the deploy with its last lines.
func awaitVty(ctx context.Context, ds []started, dir string) error {
	deadline := time.Now().Add(VtyWait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		waiting := ""
		for _, d := range ds {
			if exited, err := d.proc.Exited(); exited {
				return d.failure(cmp.Or(err, errExitedZero), 0)
			}
			if waiting == "" && !socketAnswers(filepath.Join(dir, d.binary+".vty")) {
				waiting = d.binary
			}
		}
		if waiting == "" {
			return nil
		}
		if time.Now().After(deadline) {
			for _, d := range ds {
				if d.binary == waiting {
					return d.failure(nil, VtyWait)
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// applyFRRConfig has vtysh apply frr.conf to the node's daemons, as the
// container's frrinit.sh does with vtysh -b; its output goes to
// NODE-vtysh.log.
func applyFRRConfig(ctx context.Context, st *State, n *NodeState, vtysh, conf string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, vtysh, "--vty_socket", n.VtySocket, "-f", conf).CombinedOutput()
	logPath := filepath.Join(st.Dir, n.Name+"-vtysh.log")
	_ = os.WriteFile(logPath, append([]byte("$ vtysh -f "+conf+"\n"), out...), 0o644)
	if err != nil {
		return &FRRConfigError{Node: n.Name, Conf: conf, Err: err, Lines: lastLines(logPath, logTail)}
	}
	return nil
}

// frrLog is where an FRR daemon's output goes: StateDir/LAB/NODE-DAEMON.log.
func frrLog(st *State, n *NodeState, daemon string) string {
	return filepath.Join(st.Dir, n.Name+"-"+daemon+".log")
}
