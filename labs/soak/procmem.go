package soak

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ProcMem is what the kernel says a process's memory is made of, in
// bytes, from /proc/PID/smaps_rollup (summed over every mapping) and
// /proc/PID/status. The Go runtime's own classes (Sample.Classes) say
// what it has mapped; these say what of it, and of everything else
// mapped, is resident: a growth of Anonymous beyond the runtime's
// mapped-minus-released is memory that is not Go's, of RssFile the
// binary's text and other file pages faulted in.
type ProcMem struct {
	Rss       float64 // smaps_rollup Rss: every resident page
	Anonymous float64 // smaps_rollup Anonymous: anonymous pages (the Go heap, stacks, metadata; C's malloc)
	AnonHuge  float64 // smaps_rollup AnonHugePages: of Anonymous, in transparent huge pages
	PssFile   float64 // smaps_rollup Pss_File: file-backed pages, shared ones divided among their sharers
	PssShmem  float64 // smaps_rollup Pss_Shmem: shared memory (memfd, tmpfs, SysV)
	RssFile   float64 // status RssFile: file-backed pages, counted whole
	RssShmem  float64 // status RssShmem
	Threads   float64 // status Threads: the process's OS threads
}

// ReadProcMem reads pid's ProcMem.
func ReadProcMem(pid int) (ProcMem, error) {
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return ProcMem{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcMem{}, err
	}
	return ParseProcMem(rollup, status)
}

// ParseProcMem reads a ProcMem from the text of smaps_rollup and status
// (proc(5): "Key:  value kB" lines, Threads a bare count). Every field of
// ProcMem must be there.
func ParseProcMem(smapsRollup, status []byte) (ProcMem, error) {
	v := map[string]float64{}
	for _, file := range []struct {
		name string
		text []byte
	}{{"smaps_rollup", smapsRollup}, {"status", status}} {
		sc := bufio.NewScanner(bytes.NewReader(file.text))
		for sc.Scan() {
			key, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
			if !ok {
				continue // smaps_rollup's first line names the range
			}
			name := file.name + " " + string(key)
			if _, want := procMemKeys[name]; !want {
				continue
			}
			fields := bytes.Fields(rest)
			if len(fields) == 0 || len(fields) > 2 || len(fields) == 2 && string(fields[1]) != "kB" {
				return ProcMem{}, fmt.Errorf("%s: %q: want a count or a size in kB", name, rest)
			}
			n, err := strconv.ParseUint(string(fields[0]), 10, 64)
			if err != nil {
				return ProcMem{}, fmt.Errorf("%s: %w", name, err)
			}
			f := float64(n)
			if len(fields) == 2 {
				f *= 1024
			}
			v[name] = f
		}
		if err := sc.Err(); err != nil {
			return ProcMem{}, fmt.Errorf("%s: %w", file.name, err)
		}
	}
	var m ProcMem
	for name, field := range procMemKeys {
		f, ok := v[name]
		if !ok {
			return ProcMem{}, fmt.Errorf("no %s", name)
		}
		*field(&m) = f
	}
	return m, nil
}

// procMemKeys are the lines ParseProcMem reads, by file and key.
var procMemKeys = map[string]func(*ProcMem) *float64{
	"smaps_rollup Rss":           func(m *ProcMem) *float64 { return &m.Rss },
	"smaps_rollup Anonymous":     func(m *ProcMem) *float64 { return &m.Anonymous },
	"smaps_rollup AnonHugePages": func(m *ProcMem) *float64 { return &m.AnonHuge },
	"smaps_rollup Pss_File":      func(m *ProcMem) *float64 { return &m.PssFile },
	"smaps_rollup Pss_Shmem":     func(m *ProcMem) *float64 { return &m.PssShmem },
	"status RssFile":             func(m *ProcMem) *float64 { return &m.RssFile },
	"status RssShmem":            func(m *ProcMem) *float64 { return &m.RssShmem },
	"status Threads":             func(m *ProcMem) *float64 { return &m.Threads },
}
