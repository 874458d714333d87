package clab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// How long Deploy watches the daemons it started. A daemon that exits on
// a bad configuration does so in milliseconds; one that dies on a key file
// or a socket it cannot open does so within its first second. The lab is
// not up until every daemon has lived through StartupWatch and every
// Peregrine node answers on its control socket (within SocketWait).
var (
	StartupWatch = 3 * time.Second
	SocketWait   = 30 * time.Second
)

// errExitedZero is the exit status of a daemon that exited during deploy
// without an error status: an exit nonetheless.
var errExitedZero = errors.New("exit status 0")

// logTail is how many of a dead daemon's last log lines an error carries.
const logTail = 20

// DaemonExitedError is a deploy failing because a node's daemon exited
// (or never answered) while the lab came up. Lines are the daemon's own
// last output lines: they say why, in its words.
type DaemonExitedError struct {
	Node   string
	Binary string
	Err    error         // the exit status; nil if the daemon runs but never answered
	Waited time.Duration // how long it was given to answer, when Err is nil
	Lines  []string      // the last lines of its log
}

func (e *DaemonExitedError) Error() string {
	var b strings.Builder
	if e.Err != nil {
		fmt.Fprintf(&b, "node %s: %s exited during deploy (%v)", e.Node, e.Binary, e.Err)
	} else {
		fmt.Fprintf(&b, "node %s: %s did not answer on its socket within %v", e.Node, e.Binary, e.Waited)
	}
	// Not the log's path: a failed deploy removes the lab, logs and all.
	if len(e.Lines) == 0 {
		b.WriteString("; it wrote nothing")
		return b.String()
	}
	b.WriteString("; its last output lines:")
	for _, l := range e.Lines {
		b.WriteString("\n  " + l)
	}
	return b.String()
}

func (e *DaemonExitedError) Unwrap() error { return e.Err }

// started is a daemon Deploy started and watches until the lab is up.
type started struct {
	node   *NodeState
	binary string // the daemon's name: peregrined, zebra, bgpd...
	log    string // its output
	since  time.Time
	proc   *netns.Process
}

// awaitStartup watches every started daemon until it has run for
// StartupWatch and, for a Peregrine node, answers on its control socket.
// The first daemon that exits fails the deploy with its own last lines.
func awaitStartup(ctx context.Context, ds []started) error {
	for _, d := range ds {
		if err := awaitOne(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func awaitOne(ctx context.Context, d started) error {
	watchEnd := d.since.Add(StartupWatch)
	socketEnd := d.since.Add(SocketWait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	answered := d.node.Socket == ""
	for {
		select {
		case <-d.proc.Done():
			_, err := d.proc.Exited()
			if err == nil {
				err = errExitedZero
			}
			return d.failure(err, 0)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if !answered {
			answered = socketAnswers(d.node.Socket)
		}
		now := time.Now()
		if answered && now.After(watchEnd) {
			return nil
		}
		if !answered && now.After(socketEnd) {
			return d.failure(nil, SocketWait)
		}
	}
}

// failure is d's exit (exitErr), or its silence for waited.
func (d started) failure(exitErr error, waited time.Duration) error {
	return &DaemonExitedError{Node: d.node.Name, Binary: d.binary, Err: exitErr, Waited: waited, Lines: lastLines(d.log, logTail)}
}

// socketAnswers reports whether something accepts connections on the unix
// socket at path.
func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// lastLines returns up to n last non-empty lines of the file at path.
func lastLines(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		if s := strings.TrimRight(string(l), "\r "); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
