package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/labs/clab"
)

// convergeTimeout bounds the wait for BGP and routes.
const convergeTimeout = 90 * time.Second

// demo deploys topo, waits until every Peregrine node has its BGP sessions
// up and a route imported into each VRF, pings what the CE nodes' labels
// ask for, prints show output from the first PE and a verdict.
func demo(ctx context.Context, topo *clab.Topology, opts clab.Options, destroy bool, w io.Writer) error {
	fmt.Fprintf(w, "== deploying %s (%s) in network namespaces\n", topo.Name, topo.Path)
	st, err := clab.Deploy(ctx, topo, opts)
	if err != nil {
		return err
	}
	if destroy {
		defer func() {
			if err := clab.Destroy(topo.Name); err != nil {
				fmt.Fprintf(w, "destroy: %v\n", err)
			} else {
				fmt.Fprintf(w, "== %s destroyed\n", topo.Name)
			}
		}()
	}
	var pes []clab.NodeState
	for _, n := range st.Nodes {
		if n.Role == clab.RolePeregrine {
			pes = append(pes, n)
		}
	}
	fmt.Fprintf(w, "== waiting for BGP sessions and VPN routes on %d PEs (tunnels are manually keyed: up with the daemon)\n", len(pes))
	converged := waitConverged(ctx, pes, w)

	fmt.Fprintln(w, "== pings from the CEs across the ESP core")
	sent, answered, vrfs := pings(ctx, topo, w)

	if len(pes) > 0 {
		c := newClient(pes[0].Socket)
		fmt.Fprintf(w, "== %s: peregrine show bgp summary\n", pes[0].Name)
		if err := show(c, []string{"bgp", "summary"}, false, w); err != nil {
			fmt.Fprintf(w, "  %v\n", err)
		}
		fmt.Fprintf(w, "== %s: peregrine show ipsec sa\n", pes[0].Name)
		if err := show(c, []string{"ipsec", "sa"}, false, w); err != nil {
			fmt.Fprintf(w, "  %v\n", err)
		}
		fmt.Fprintf(w, "== %s: peregrine show interfaces\n", pes[0].Name)
		if err := show(c, []string{"interfaces"}, false, w); err != nil {
			fmt.Fprintf(w, "  %v\n", err)
		}
		fmt.Fprintf(w, "== %s: peregrine show vrf\n", pes[0].Name)
		var list []localapi.VRF
		if err := show(c, []string{"vrf"}, false, w); err != nil {
			fmt.Fprintf(w, "  %v\n", err)
		} else if err := c.get("/v1/vrfs", &list); err == nil {
			for _, v := range list {
				fmt.Fprintf(w, "== %s: peregrine show route vrf %s\n", pes[0].Name, v.Name)
				_ = show(c, []string{"route", "vrf", v.Name}, false, w)
			}
		}
	}

	ok := converged && sent > 0 && answered == sent
	verdict := fmt.Sprintf("BGP up on %d PEs, %d/%d CE pings answered across the ESP core in VRFs %s", len(pes), answered, sent, strings.Join(vrfs, ", "))
	if !converged {
		verdict = fmt.Sprintf("BGP or routes did not converge within %v; %d/%d CE pings answered", convergeTimeout, answered, sent)
	}
	if ok {
		fmt.Fprintf(w, "verdict: PASS: %s\n", verdict)
	} else {
		fmt.Fprintf(w, "verdict: FAIL: %s (logs: %s)\n", verdict, st.Dir)
	}
	if !destroy {
		fmt.Fprintf(w, "The lab stays up: `ip netns exec %s ping 10.2.0.2`, `bin/peregrine -s %s show vrf`; `make demo-down` removes it.\n",
			clab.Namespace(topo.Name, "ce-red-1"), pes0Socket(pes))
	}
	if !ok {
		return errNotConverged
	}
	return nil
}

func pes0Socket(pes []clab.NodeState) string {
	if len(pes) == 0 {
		return "SOCKET"
	}
	return pes[0].Socket
}

// waitConverged polls every PE until all its neighbors are established
// and each of its VRFs has imported a route, printing one progress line
// that it rewrites.
func waitConverged(ctx context.Context, pes []clab.NodeState, w io.Writer) bool {
	start := time.Now()
	last := ""
	for {
		done := true
		var parts []string
		for _, pe := range pes {
			c := newClient(pe.Socket)
			var ns []localapi.Neighbor
			var vrfs []localapi.VRF
			if err := c.get("/v1/bgp/neighbors", &ns); err != nil {
				parts = append(parts, pe.Name+" starting")
				done = false
				continue
			}
			up := 0
			for _, n := range ns {
				if n.State == "established" {
					up++
				}
			}
			imported := 0
			withRoutes := 0
			if err := c.get("/v1/vrfs", &vrfs); err == nil {
				for _, v := range vrfs {
					imported += v.Imported
					if v.Imported > 0 {
						withRoutes++
					}
				}
			}
			if up < len(ns) || len(ns) == 0 || withRoutes < len(vrfs) {
				done = false
			}
			parts = append(parts, fmt.Sprintf("%s bgp %d/%d routes %d", pe.Name, up, len(ns), imported))
		}
		// A line whenever something moved: readable on a terminal and in
		// a CI log alike.
		if line := strings.Join(parts, ", "); line != last {
			fmt.Fprintf(w, "  %5.1fs  %s\n", time.Since(start).Seconds(), line)
			last = line
		}
		if done {
			return true
		}
		if time.Since(start) > convergeTimeout || ctx.Err() != nil {
			return false
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// pings runs the pings the CE nodes' labels ask for and reports how many
// were sent and answered, and the VRFs they covered.
func pings(ctx context.Context, topo *clab.Topology, w io.Writer) (sent, answered int, vrfs []string) {
	const count = 3
	for _, name := range slices.Sorted(maps.Keys(topo.Topology.Nodes)) {
		n := topo.Topology.Nodes[name]
		targets := strings.FieldsFunc(n.Labels[clab.LabelPing], func(r rune) bool { return r == ',' || r == ' ' })
		vrf := n.Labels[clab.LabelVRF]
		if vrf != "" && len(targets) > 0 && !slices.Contains(vrfs, vrf) {
			vrfs = append(vrfs, vrf)
		}
		for _, dst := range targets {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			out, _ := exec.CommandContext(cctx, "ip", "netns", "exec", clab.Namespace(topo.Name, name),
				"ping", "-c", fmt.Sprint(count), "-i", "0.3", "-W", "2", dst).CombinedOutput()
			cancel()
			got := 0
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "bytes from") {
					got++
				}
			}
			sent += count
			answered += got
			fmt.Fprintf(w, "  %-10s (vrf %s) -> %-10s %d/%d replies\n", name, orDash(vrf), dst, got, count)
		}
	}
	return sent, answered, vrfs
}
