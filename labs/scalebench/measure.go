package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
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

// apiVRF is the part of GET /v1/vrfs the benchmarks read: imported route
// count and how traffic to each remote PE leaves.
type apiVRF struct {
	Name      string `json:"name"`
	Imported  int    `json:"imported"`
	RemotePEs []struct {
		Address    string `json:"address"`
		Protection string `json:"protection"`
	} `json:"remote-pes"`
}

// vrfs is GET /v1/vrfs.
func (a *apiClient) vrfs(ctx context.Context) ([]apiVRF, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://peregrined/v1/vrfs", nil)
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/vrfs: %s", resp.Status)
	}
	var vrfs []apiVRF
	return vrfs, json.NewDecoder(resp.Body).Decode(&vrfs)
}

// vrfImports is each VRF's imported route count by name.
func (a *apiClient) vrfImports(ctx context.Context) (map[string]int, error) {
	vrfs, err := a.vrfs(ctx)
	if err != nil {
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

// waitFor polls ready (pollInterval apart) until it says yes, fails, or
// timeout.
func waitFor(ctx context.Context, timeout time.Duration, ready func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
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
		case <-time.After(pollInterval(time.Since(start))):
		}
	}
}

// pollInterval is how long waitFor sleeps between two checks after
// waiting elapsed: 50 ms, or a fiftieth of elapsed if longer. The wait
// then overshoots by at most 2% (or 50 ms), and a check that asks the
// daemon (its VRF list: 2,000 VRFs in JSON) costs it a few percent of
// its bring-up CPU, not the 8% it took when polled every 50 ms (perf).
func pollInterval(elapsed time.Duration) time.Duration {
	return max(50*time.Millisecond, elapsed/50)
}

// waitDialing waits until pe's namespace has opened a TCP connection
// (ActiveOpens in its /proc/net/snmp): pe's daemon, the only process
// there, dials its neighbours.
func waitDialing(ctx context.Context, pe *netns.Node, timeout time.Duration) error {
	return waitFor(ctx, timeout, func(ctx context.Context) (bool, error) {
		out, err := pe.Exec(ctx, "cat", "/proc/net/snmp")
		if err != nil {
			return false, err
		}
		n, err := procstat.ParseSNMP(out, "Tcp", "ActiveOpens")
		return n > 0, err
	})
}

// goMetrics reads the Go heap in use and the goroutine count from the
// daemon's /metrics (client_golang's Go collector), fetched inside pe.
func goMetrics(ctx context.Context, pe *netns.Node) (heap int64, goroutines int, err error) {
	m, err := scrapeMetrics(ctx, pe)
	return int64(m["go_memstats_heap_alloc_bytes"]), int(m["go_goroutines"]), err
}

// scrapeMetrics fetches the daemon's /metrics inside pe (procstat.ParseMetrics).
func scrapeMetrics(ctx context.Context, pe *netns.Node) (map[string]float64, error) {
	out, err := pe.Exec(ctx, "curl", "-sf", "http://"+metricsAddr+"/metrics")
	if err != nil {
		return nil, err
	}
	return procstat.ParseMetrics(out), nil
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

func goMemClasses(ctx context.Context, pe *netns.Node) (memClasses, error) {
	m, err := scrapeMetrics(ctx, pe)
	return memClasses{
		Stack:    int64(m["go_memstats_stack_inuse_bytes"]),
		HeapFree: int64(m["go_memstats_heap_idle_bytes"] - m["go_memstats_heap_released_bytes"]),
		HeapUsed: int64(m["go_memstats_heap_inuse_bytes"]),
	}, err
}
