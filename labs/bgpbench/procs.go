package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one daemon the benchmark started, in its own process group so
// that stopping it also stops anything it forked, and so that a Ctrl-C at
// the terminal reaches only the benchmark, which then stops it in order.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // file with the daemon's stdout and stderr
	done chan struct{}
}

// procs is every daemon started, so that one deferred call stops them all
// whatever path the benchmark leaves by.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// start runs path with args, output to logPath, with env added to this
// program's environment. Pdeathsig kills the daemon if the benchmark itself
// dies without cleaning up (SIGKILL, a crash).
func (ps *procs) start(name, logPath string, env []string, path string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll stops the daemons, newest first: SIGTERM to each process group,
// then SIGKILL to any group still there after two seconds.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop(2 * time.Second)
	}
}

func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid // Setpgid: the group is named after the leader
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The leader is gone; kill stragglers it may have left in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// exited reports whether the daemon has died, with the end of its log.
func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); log %s:\n%s", p.name, p.cmd.ProcessState, p.log, p.tail(20))
	default:
		return nil
	}
}

// tail returns the last n lines of the daemon's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// usage is a process's resident set as the kernel counts it, and the CPU
// time it has used.
type usage struct {
	RSS  int64         // VmRSS, bytes
	Peak int64         // VmHWM, the RSS high-water mark, bytes
	CPU  time.Duration // user + system
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// readUsage reads VmRSS and VmHWM from /proc/PID/status and utime and stime
// from /proc/PID/stat.
func readUsage(pid int) (usage, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return usage{}, err
	}
	u, err := parseStatus(b)
	if err != nil {
		return usage{}, err
	}
	if b, err = os.ReadFile(dir + "/stat"); err != nil {
		return usage{}, err
	}
	u.CPU, err = parseStatCPU(b)
	return u, err
}

func parseStatus(b []byte) (usage, error) {
	var u usage
	var found int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return usage{}, fmt.Errorf("/proc status: %s: %q", key, val)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return usage{}, fmt.Errorf("/proc status: %s: %w", key, err)
		}
		if key == "VmRSS" {
			u.RSS = kb << 10
		} else {
			u.Peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return usage{}, fmt.Errorf("/proc status: VmRSS or VmHWM missing")
	}
	return u, nil
}

// parseStatCPU returns utime + stime from /proc/PID/stat. The command name
// (field 2) is in parentheses and may hold spaces, so fields are counted
// from the last ')': state is then field 0, utime 11 and stime 12.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// hostBusy is the CPU time all processors of the host spent busy (not
// idle or waiting for I/O), from the first line of /proc/stat.
func hostBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseHostBusy(b)
}

func parseHostBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	for i, s := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
