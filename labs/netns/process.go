package netns

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
const StopTimeout = 5 * time.Second

// Command is a long-running program to start in a node.
type Command struct {
	Path string   // the program (looked up in PATH if it has no slash)
	Args []string // its arguments, without the program
	Env  []string // extra "KEY=value" entries on top of the test's environment
	Dir  string   // working directory; default the lab's directory
	// LogName names the log file in the lab's directory (NODE-LOGNAME.log);
	// default the program's base name.
	LogName string
	// StopTimeout is how long Stop waits between SIGTERM and SIGKILL;
	// default the package's StopTimeout.
	StopTimeout time.Duration
}

// Process is a supervised program: its standard output and error go to a
// log file, a goroutine waits for it (so it never lingers as a zombie
// while this process runs), and Stop ends it and whatever it forked. A
// lab's processes are stopped by Lab.Close; StartProcess's by their owner.
type Process struct {
	name    string // node/logname, for messages
	cmd     *exec.Cmd
	logPath string
	grace   time.Duration // SIGTERM to SIGKILL
	log     *slog.Logger
	done    chan struct{} // closed when the process has been waited for
	err     error         // exit status; read only after done is closed
}

// ProcessOptions place a process StartProcess starts.
type ProcessOptions struct {
	// Name names the process in messages; default the program's base name.
	Name string
	// Namespace is the network namespace to run in, as `ip netns` knows
	// it; empty: the host's.
	Namespace string
	// LogPath is the file that receives the standard output and error; it
	// is created if missing and appended to.
	LogPath string
	// Detached processes outlive this one: they get a session of their own
	// and no death signal, for a lab that stays up after the command that
	// deployed it (labs/clab). Otherwise the kernel kills the process when
	// this one dies, however it dies.
	Detached bool
	// Log receives a line when the process starts and stops; nil: none.
	Log *slog.Logger
}

// Start runs name with args inside the node, like exec.Command(name, args...),
// and returns once the program has been started (not once it is ready: the
// caller polls for that). Output goes to a log file in the lab's directory.
func (n *Node) Start(name string, args ...string) (*Process, error) {
	return n.StartCommand(Command{Path: name, Args: args})
}

// StartCommand is Start with an environment, a working directory or a log
// name.
func (n *Node) StartCommand(c Command) (*Process, error) {
	l := n.lab
	logName := c.LogName
	if logName == "" {
		logName = filepath.Base(c.Path)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil, errClosed
	}
	logPath := filepath.Join(l.dir, n.name+"-"+logName+".log")
	for i := 2; fileExists(logPath); i++ {
		logPath = filepath.Join(l.dir, fmt.Sprintf("%s-%s-%d.log", n.name, logName, i))
	}
	if c.Dir == "" {
		c.Dir = l.dir
	}
	p, err := StartProcess(c, ProcessOptions{Name: n.name + "/" + logName, Namespace: n.ns, LogPath: logPath, Log: l.log})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.name, err)
	}
	l.mu.procs = append(l.mu.procs, p)
	return p, nil
}

// StartProcess runs c in o.Namespace under supervision and returns once the
// program has been started. c.LogName is not used: o.LogPath says where
// the output goes. The caller owns the process and stops it.
func StartProcess(c Command, o ProcessOptions) (*Process, error) {
	name := cmp.Or(o.Name, filepath.Base(c.Path))
	logFile, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer logFile.Close() // the child has its own copy of the descriptor

	cmd := exec.Command(c.Path, c.Args...)
	if o.Namespace != "" {
		// `ip netns exec` execs the program in place: the pid we hold is
		// the daemon's own, so signals reach it.
		cmd = exec.Command("ip", append([]string{"netns", "exec", o.Namespace, c.Path}, c.Args...)...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	if o.Detached {
		// Its own session, and so its own process group for Stop.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Setpgid: true, // Stop signals the whole group, helpers included
			// If this program dies without stopping it, the kernel kills
			// the daemon; Sweep catches whatever escapes (forked helpers).
			Pdeathsig: syscall.SIGKILL,
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Process{
		name:    name,
		cmd:     cmd,
		logPath: o.LogPath,
		grace:   cmp.Or(c.StopTimeout, StopTimeout),
		log:     log,
		done:    make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	log.Info("process started", "process", name, "netns", o.Namespace, "pid", cmd.Process.Pid,
		"cmd", strings.Join(append([]string{c.Path}, c.Args...), " "), "log", o.LogPath)
	return p, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Name returns "node/program".
func (p *Process) Name() string { return p.name }

// Pid returns the process ID (in the host's PID namespace).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogPath returns the file holding the process's standard output and error.
func (p *Process) LogPath() string { return p.logPath }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited and, if so, how: nil for
// status 0, else an *exec.ExitError. Drivers use it to fail fast when a
// daemon dies during start-up instead of polling until a deadline.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to its stop timeout, then
// sends SIGKILL and waits for the exit; last it kills whatever the process
// left in its group. It returns nil once the process is gone, whatever its
// exit status (see Exited); calling it again is harmless.
func (p *Process) Stop() error {
	if exited, _ := p.Exited(); exited {
		return nil
	}
	pgid := -p.cmd.Process.Pid
	if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(p.grace):
		p.log.Warn("process ignored SIGTERM; killing", "process", p.name, "timeout", p.grace)
		if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill %s: %w", p.name, err)
		}
		<-p.done
	}
	// The leader is gone; its group may hold stragglers it forked.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	p.log.Info("process stopped", "process", p.name, "exit", p.err)
	return nil
}

// LogTail returns up to the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines in %s)", len(lines)-n, p.logPath)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
