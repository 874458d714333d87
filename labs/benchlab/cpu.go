package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// userHZ is the unit of /proc/PID/stat's times (USER_HZ, the
// sysconf(_SC_CLK_TCK) the kernel reports to every process: 100 on
// Linux, whatever the kernel's own HZ).
const userHZ = 100

// daemonsCPU returns the user+sys CPU time procs have used so far, read
// from /proc/PID/stat (threads included: the process's totals).
func daemonsCPU(procs []*netns.Process) (time.Duration, error) {
	var sum time.Duration
	for _, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
		if err != nil {
			return 0, err
		}
		d, err := parseProcStat(b)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.Name(), err)
		}
		sum += d
	}
	return sum, nil
}

// parseProcStat returns utime+stime (fields 14 and 15, proc(5)) of a
// /proc/PID/stat line. The command name, field 2, is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseProcStat(b []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, errors.New("/proc/PID/stat: no ')' after the command name")
	}
	fields := bytes.Fields(b[end+1:]) // fields[0] is field 3, state
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat: %d fields after the command name, want at least 13", len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseUint(string(f), 10, 63)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: bad CPU time %q", f)
		}
		ticks += n
	}
	if ticks > uint64(1<<62)/uint64(time.Second/userHZ) {
		return 0, fmt.Errorf("/proc/PID/stat: CPU time %d ticks out of range", ticks)
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}
