package procstat

import (
	"time"

	"golang.org/x/sys/unix"
)

// SelfCPU returns the user plus system CPU time this process has used so
// far, every thread's, from getrusage(2): to the microsecond, where
// /proc/PID/stat counts in ticks of 10 ms.
func SelfCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
