package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// proc is one daemon the benchmark started, supervised by labs/netns on
// the host: in its own process group, so that stopping it also stops
// anything it forked and a Ctrl-C at the terminal reaches only the
// benchmark, which then stops it in order; and killed by the kernel if the
// benchmark dies without cleaning up (SIGKILL, a crash).
type proc = netns.Process

// procs is every daemon started, so that one deferred call stops them all
// whatever path the benchmark leaves by.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// stopGrace is how long a daemon gets between SIGTERM and SIGKILL.
const stopGrace = 2 * time.Second

// start runs path with args, output to logPath, with env added to this
// program's environment.
func (ps *procs) start(name, logPath string, env []string, path string, args ...string) (*proc, error) {
	p, err := netns.StartProcess(netns.Command{Path: path, Args: args, Env: env, StopTimeout: stopGrace},
		netns.ProcessOptions{Name: name, LogPath: logPath})
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll stops the daemons, newest first (see netns.Process.Stop).
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		_ = list[i].Stop()
	}
}

// exited reports whether the daemon has died, with the end of its log.
func exited(p *proc) error {
	done, err := p.Exited()
	if !done {
		return nil
	}
	status := "exit status 0"
	if err != nil {
		status = err.Error()
	}
	return fmt.Errorf("%s exited (%s); log %s:\n%s", p.Name(), status, p.LogPath(), p.LogTail(20))
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
