package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// meshProgress is how far one PE is: VRFs holding every other PE's
// prefix in the API, and routes through a TUN in the kernel.
type meshProgress struct {
	fullVRFs   int
	tunRoutes  int
	unprotoVRF string // a VRF with a remote PE whose traffic is not ESP, "" if none
}

// converged is true when every VRF holds pes-1 imports in the API, every
// remote PE they lead to is "protected" (ESP), and the kernel has a TUN
// route for each of the vrfs x (pes-1) remote prefixes: distinct routes,
// so two RRs' copies of one path cannot pass for two PEs' prefixes.
func (g meshProgress) converged(pes, vrfs int) bool {
	return g.fullVRFs == vrfs && g.tunRoutes >= vrfs*(pes-1) && g.unprotoVRF == ""
}

// readProgress asks PE pe's API and kernel how far it is.
func readProgress(ctx context.Context, api *apiClient, pe *netns.Node, pes int) (meshProgress, error) {
	var g meshProgress
	vrfs, err := api.vrfs(ctx)
	if err != nil {
		return g, err
	}
	for _, v := range vrfs {
		if v.Imported >= pes-1 {
			g.fullVRFs++
		}
		for _, r := range v.RemotePEs {
			if r.Protection != "protected" && g.unprotoVRF == "" {
				g.unprotoVRF = v.Name + ": " + r.Address + " " + r.Protection
			}
		}
	}
	g.tunRoutes, err = kernelTUNRoutes(ctx, pe)
	return g, err
}

// rrCounters are an FRR route reflector's UPDATE counters summed over its
// neighbors, from `show bgp neighbors json`'s messageStats.
type rrCounters struct{ updatesRecv, updatesSent int64 }

func parseRRCounters(b []byte) (rrCounters, error) {
	var m map[string]struct {
		MessageStats struct {
			UpdatesSent int64 `json:"updatesSent"`
			UpdatesRecv int64 `json:"updatesRecv"`
		} `json:"messageStats"`
	}
	var c rrCounters
	if err := json.Unmarshal(b, &m); err != nil {
		return c, fmt.Errorf("frr neighbors json: %w", err)
	}
	for _, n := range m {
		c.updatesRecv += n.MessageStats.UpdatesRecv
		c.updatesSent += n.MessageStats.UpdatesSent
	}
	return c, nil
}

// snmpInEchos is the namespace's Icmp InEchos from /proc/net/snmp: echo
// requests that reached this namespace's stack, the oracle that says which
// of two CEs with the same address a ping reached.
func snmpInEchos(ctx context.Context, n *netns.Node) (int64, error) {
	out, err := n.Exec(ctx, "cat", "/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return procstat.ParseSNMP(out, "Icmp", "InEchos")
}

// pingUntil retries one echo from n to dst, a second apart, until one is
// answered or tries run out.
func pingUntil(ctx context.Context, n *netns.Node, dst string, tries int) bool {
	for range tries {
		if _, err := n.Exec(ctx, "ping", "-n", "-q", "-c", "1", "-W", "1", dst); err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
	return false
}

// pingCount sends count echoes 0.2 s apart and returns how many came back.
func pingCount(ctx context.Context, n *netns.Node, dst string, count int) int {
	out, _ := n.Exec(ctx, "ping", "-n", "-q", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "1", dst)
	// "5 packets transmitted, 5 received, 0% packet loss"
	for _, part := range strings.Split(string(out), ",") {
		f := strings.Fields(part)
		if len(f) == 2 && f[1] == "received" {
			got, _ := strconv.Atoi(f[0])
			return got
		}
	}
	return 0
}

// waitTick sleeps d or until ctx ends.
func waitTick(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
