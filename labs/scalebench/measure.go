package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// apiClient reads peregrined's local API on its Unix socket, which the
// host reaches whatever the daemon's namespace.
type apiClient struct{ c *http.Client }

func newAPIClient(sock string) *apiClient {
	return &apiClient{&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}}
}

// vrfImports is GET /v1/vrfs: each VRF's name and imported route count.
func (a *apiClient) vrfImports(ctx context.Context) (map[string]int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://peregrined/v1/vrfs", nil)
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/vrfs: %s", resp.Status)
	}
	var vrfs []struct {
		Name     string `json:"name"`
		Imported int    `json:"imported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vrfs); err != nil {
		return nil, err
	}
	m := make(map[string]int, len(vrfs))
	for _, v := range vrfs {
		m[v.Name] = v.Imported
	}
	return m, nil
}

// installed reports whether every VRF of want has its imports in the API
// (gobgpd's route, and pe2's for the first and the last) and the kernel
// has a route through a TUN for each of them: the routes are installed.
func installed(ctx context.Context, api *apiClient, pe *netns.Node, vrfs int) (bool, error) {
	got, err := api.vrfImports(ctx)
	if err != nil {
		return false, nil // not up yet
	}
	want := 0
	for i := range vrfs {
		n := 1
		if i == 0 || i == vrfs-1 {
			n = 2
		}
		if vrfs == 1 {
			n = 2
		}
		if got[vrfName(i)] < n {
			return false, nil
		}
		want += n
	}
	tunRoutes, err := kernelTUNRoutes(ctx, pe)
	if err != nil {
		return false, err
	}
	return tunRoutes >= want, nil
}

// kernelTUNRoutes counts pe's IPv4 routes through a VRF's TUN, all tables.
func kernelTUNRoutes(ctx context.Context, pe *netns.Node) (int, error) {
	out, err := pe.Exec(ctx, "ip", "-4", "route", "show", "table", "all", "proto", "204")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range bytes.Split(out, []byte("\n")) {
		if bytes.Contains(l, []byte(" dev pg-")) {
			n++
		}
	}
	return n, nil
}

// waitFor polls ready every interval until it says yes, fails, or timeout.
func waitFor(ctx context.Context, timeout time.Duration, ready func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := ready(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// procStatus reads VmRSS (bytes) and Threads from /proc/PID/status.
func procStatus(pid int) (rss int64, threads int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		case "Threads:":
			threads, _ = strconv.Atoi(f[1])
		}
	}
	return rss, threads, nil
}

// cpuTime is the process's user plus system CPU time (/proc/PID/stat).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// goMetrics reads the Go heap in use and the goroutine count from the
// daemon's /metrics (client_golang's Go collector), fetched inside pe.
func goMetrics(ctx context.Context, pe *netns.Node) (heap int64, goroutines int, err error) {
	out, err := pe.Exec(ctx, "curl", "-sf", "http://"+metricsAddr+"/metrics")
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "go_memstats_heap_alloc_bytes":
			heap = int64(v)
		case "go_goroutines":
			goroutines = int(v)
		}
	}
	return heap, goroutines, nil
}

// memClasses is where the daemon's RSS goes besides live heap objects,
// from its /metrics: goroutine stacks, and heap spans free but not yet
// returned to the kernel (idle minus released), which the settled RSS
// still counts.
type memClasses struct {
	Stack    int64 // go_memstats_stack_inuse_bytes
	HeapFree int64 // go_memstats_heap_idle_bytes - go_memstats_heap_released_bytes
	HeapUsed int64 // go_memstats_heap_inuse_bytes: spans holding objects
}

func goMemClasses(ctx context.Context, pe *netns.Node) (m memClasses, err error) {
	out, err := pe.Exec(ctx, "curl", "-sf", "http://"+metricsAddr+"/metrics")
	if err != nil {
		return m, err
	}
	var idle, released int64
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "go_memstats_stack_inuse_bytes":
			m.Stack = int64(v)
		case "go_memstats_heap_idle_bytes":
			idle = int64(v)
		case "go_memstats_heap_released_bytes":
			released = int64(v)
		case "go_memstats_heap_inuse_bytes":
			m.HeapUsed = int64(v)
		}
	}
	m.HeapFree = idle - released
	return m, nil
}
