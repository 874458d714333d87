package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// UserHZ is the unit of /proc/PID/stat's times (USER_HZ, the
// sysconf(_SC_CLK_TCK) the kernel reports to every process: 100 on
// Linux, whatever the kernel's own HZ).
const UserHZ = 100

// CPU returns the user plus system CPU time process pid has used so far
// (threads included: the process's totals), from /proc/PID/stat.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return ParseStat(b)
}

// ParseStat returns utime+stime (fields 14 and 15, proc(5)) of a
// /proc/PID/stat line. The command name, field 2, is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func ParseStat(b []byte) (time.Duration, error) {
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
	if ticks > uint64(1<<62)/uint64(time.Second/UserHZ) {
		return 0, fmt.Errorf("/proc/PID/stat: CPU time %d ticks out of range", ticks)
	}
	return time.Duration(ticks) * (time.Second / UserHZ), nil
}

// Status returns process pid's resident set (VmRSS, in bytes) and thread
// count from /proc/PID/status.
func Status(pid int) (rss int64, threads int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	return ParseStatus(b)
}

// ParseStatus reads VmRSS (kB in the file, bytes here) and Threads from
// a /proc/PID/status text. A field that is absent reads as 0 (a zombie
// or a kernel thread has no VmRSS); one that is there but not a count is
// an error.
func ParseStatus(b []byte) (rss int64, threads int, err error) {
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := bytes.Fields(s.Bytes())
		if len(f) < 2 {
			continue
		}
		switch string(f[0]) {
		case "VmRSS:":
			kb, err := strconv.ParseUint(string(f[1]), 10, 53) // bytes fit an int64
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/PID/status: bad VmRSS %q", f[1])
			}
			rss = int64(kb) << 10
		case "Threads:":
			n, err := strconv.ParseUint(string(f[1]), 10, 31)
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/PID/status: bad Threads %q", f[1])
			}
			threads = int(n)
		}
	}
	return rss, threads, s.Err()
}
