package main

import (
	"fmt"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// daemonsCPU returns the user+sys CPU time procs have used so far, read
// from /proc/PID/stat (threads included: the process's totals).
func daemonsCPU(procs []*netns.Process) (time.Duration, error) {
	var sum time.Duration
	for _, p := range procs {
		d, err := procstat.CPU(p.Pid())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.Name(), err)
		}
		sum += d
	}
	return sum, nil
}
