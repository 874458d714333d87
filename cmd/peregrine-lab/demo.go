package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/labs/clab"
)

// convergeTimeout bounds the wait for BGP and routes.
var convergeTimeout = 90 * time.Second

// demo deploys topo in namespaces, checks it (check) and, with destroy,
// removes it.
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
	err = check(ctx, topo, newNetnsNodes(st), w)
	if err != nil {
		fmt.Fprintf(w, "(logs: %s)\n", st.Dir)
	}
	if !destroy {
		fmt.Fprintf(w, "The lab stays up: %s`bin/peregrine -s %s show vrf`; `make demo-down` removes it.\n", tryCE(topo, st), pes0Socket(st))
	}
	return err
}

// tryCE suggests a ping (and for an FRR CE, a vtysh command) from the
// first CE that pings something.
func tryCE(topo *clab.Topology, st *clab.State) string {
	for _, ns := range st.Nodes {
		n := topo.Topology.Nodes[ns.Name]
		targets := pingTargets(n)
		if len(targets) == 0 {
			continue
		}
		ping := "ping " + targets[0]
		if from := pingSource(n, targets[0]); from != "" {
			ping = "ping -I " + from + " " + targets[0]
		}
		s := fmt.Sprintf("`ip netns exec %s %s`, ", ns.Namespace, ping)
		if ns.VtySocket != "" {
			s += fmt.Sprintf("`vtysh --vty_socket %s -c 'show bgp summary'`, ", ns.VtySocket)
		}
		return s
	}
	return ""
}

func pes0Socket(st *clab.State) string {
	for _, n := range st.Nodes {
		if n.Role == clab.RolePeregrine {
			return n.Socket
		}
	}
	return "SOCKET"
}

// check judges a deployed lab as `make demo` and `make clab-test` do:
// every Peregrine node's daemon runs, has all its BGP sessions up and a
// route imported into each VRF; every FRR node (CE or route reflector)
// has all its BGP sessions Established, and an FRR CE has a BGP route
// to each address it pings; every ping the CE nodes' labels ask for is
// answered; every ESP SA carried packets during the pings; and no byte
// of any key file appears in the output, the show documents or the
// daemons' logs. It prints show output from the first PE, the FRR
// routers' sessions and a verdict line, and returns an error unless the
// verdict is PASS.
func check(ctx context.Context, topo *clab.Topology, nodes labNodes, out io.Writer) error {
	// Everything printed is also kept, to look for key material in it.
	var seen bytes.Buffer
	w := io.MultiWriter(out, &seen)
	var pes []string
	for _, name := range slices.Sorted(maps.Keys(topo.Topology.Nodes)) {
		if topo.Topology.Nodes[name].Role() == clab.RolePeregrine {
			pes = append(pes, name)
		}
	}
	var dead []string
	for _, pe := range append(slices.Clone(pes), frrNodes(topo)...) {
		if err := nodes.down(ctx, pe); err != nil {
			dead = append(dead, err.Error())
		}
	}
	if len(dead) > 0 {
		fmt.Fprintf(w, "verdict: FAIL: %s\n", strings.Join(dead, "\n"))
		return errNotConverged
	}
	fmt.Fprintf(w, "== waiting for BGP sessions and VPN routes on %d PEs and %d FRR routers (tunnels are manually keyed: up with the daemon)\n", len(pes), len(frrNodes(topo)))
	converged, stopped := waitConverged(ctx, topo, pes, nodes, w)
	if stopped != nil {
		fmt.Fprintf(w, "verdict: FAIL: %v\n", stopped)
		return errNotConverged
	}

	before := saPackets(ctx, nodes, pes, &seen)
	fmt.Fprintln(w, "== pings from the CEs across the ESP core")
	sent, answered, vrfs := pings(ctx, topo, nodes, w)
	after := saPackets(ctx, nodes, pes, &seen)
	var still []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if after[k] <= before[k] {
			still = append(still, k)
		}
	}
	if len(after) == 0 {
		still = append(still, "no SA on any PE")
	}

	if len(pes) > 0 {
		for _, words := range [][]string{{"bgp", "summary"}, {"ipsec", "sa"}, {"interfaces"}, {"vrf"}} {
			fmt.Fprintf(w, "== %s: peregrine show %s\n", pes[0], strings.Join(words, " "))
			printShow(ctx, nodes, pes[0], words, w)
		}
		var list []localapi.VRF
		if showJSON(ctx, nodes, pes[0], &list, "vrf") == nil {
			for _, v := range list {
				fmt.Fprintf(w, "== %s: peregrine show route vrf %s\n", pes[0], v.Name)
				printShow(ctx, nodes, pes[0], []string{"route", "vrf", v.Name}, w)
			}
		}
	}
	printFRRSessions(ctx, topo, nodes, w)
	var frrDown []string
	for _, n := range frrNodes(topo) {
		if st := frrProgress(ctx, topo, nodes, n); !st.done() {
			frrDown = append(frrDown, fmt.Sprintf("%s %s%s", n, st, sessionsDown(st.down)))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(topo.Topology.Nodes)) {
		seen.Write(nodes.logs(ctx, n))
	}
	leaks := keyLeaks(topo, seen.Bytes())

	ok := converged && sent > 0 && answered == sent && len(still) == 0 && len(leaks) == 0 && len(frrDown) == 0
	frr := ""
	if n := len(frrNodes(topo)); n > 0 {
		frr = fmt.Sprintf(" and %d FRR routers", n)
	}
	verdict := fmt.Sprintf("BGP up on %d PEs%s, %d/%d CE pings answered across the ESP core in VRFs %s", len(pes), frr, answered, sent, strings.Join(vrfs, ", "))
	if !converged {
		verdict = fmt.Sprintf("BGP or routes did not converge within %v; %d/%d CE pings answered", convergeTimeout, answered, sent)
	}
	if len(frrDown) > 0 {
		verdict += "; FRR routers not converged: " + strings.Join(frrDown, ", ")
	}
	if len(still) > 0 {
		verdict += "; SAs that carried nothing during the pings: " + strings.Join(still, ", ")
	}
	if len(leaks) > 0 {
		verdict += "; KEY MATERIAL in the output or logs, from " + strings.Join(leaks, ", ")
	}
	if ok {
		fmt.Fprintf(out, "verdict: PASS: %s\n", verdict)
		return nil
	}
	fmt.Fprintf(out, "verdict: FAIL: %s\n", verdict)
	return errNotConverged
}

// printShow copies `peregrine show WORDS` on pe to w.
func printShow(ctx context.Context, nodes labNodes, pe string, words []string, w io.Writer) {
	var b bytes.Buffer
	if err := nodes.show(ctx, pe, words, false, &b); err != nil {
		fmt.Fprintf(w, "  %v\n", err)
	}
	_, _ = w.Write(b.Bytes())
}

// saPackets returns the packet count of every SA of every PE, by
// "PE/direction/SPI". The JSON read goes to seen for the key check.
func saPackets(ctx context.Context, nodes labNodes, pes []string, seen *bytes.Buffer) map[string]uint64 {
	m := map[string]uint64{}
	for _, pe := range pes {
		var b bytes.Buffer
		var sas []localapi.SA
		if nodes.show(ctx, pe, []string{"ipsec", "sa"}, true, &b) != nil {
			continue
		}
		seen.Write(b.Bytes())
		if json.Unmarshal(b.Bytes(), &sas) != nil {
			continue
		}
		for _, sa := range sas {
			m[fmt.Sprintf("%s/%s/0x%x", pe, sa.Direction, sa.SPI)] = sa.Packets
		}
	}
	return m
}

// keyLeaks returns the key files (*.key in the nodes' directories) any of
// whose first 16 hex digits appear in b.
func keyLeaks(topo *clab.Topology, b []byte) []string {
	lower := bytes.ToLower(b)
	keys, _ := filepath.Glob(filepath.Join(topo.Dir, "*", "*.key"))
	var leaks []string
	for _, k := range keys {
		raw, err := os.ReadFile(k)
		if err != nil {
			continue
		}
		hexKey := strings.ToLower(strings.TrimSpace(string(raw)))
		if len(hexKey) >= 16 && bytes.Contains(lower, []byte(hexKey[:16])) {
			rel, _ := filepath.Rel(topo.Dir, k)
			leaks = append(leaks, rel)
		}
	}
	return leaks
}

// waitConverged polls every PE until all its neighbors are established
// and each of its VRFs has imported a route, and every FRR node until
// its sessions are Established and, for a CE, each address it pings is
// routed by BGP, printing a line whenever something moved. A PE whose daemon stops ends the wait at once: dead
// says which and why.
func waitConverged(ctx context.Context, topo *clab.Topology, pes []string, nodes labNodes, w io.Writer) (ok bool, dead error) {
	start := time.Now()
	last := ""
	for {
		done := true
		var parts []string
		for _, n := range frrNodes(topo) {
			st := frrProgress(ctx, topo, nodes, n)
			if !st.done() {
				if err := nodes.down(ctx, n); err != nil {
					return false, err
				}
				done = false
			}
			parts = append(parts, n+" "+st.String())
		}
		for _, pe := range pes {
			var ns []localapi.Neighbor
			var vrfs []localapi.VRF
			if err := showJSON(ctx, nodes, pe, &ns, "bgp", "summary"); err != nil {
				if err := nodes.down(ctx, pe); err != nil {
					return false, err
				}
				parts = append(parts, pe+" starting")
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
			if err := showJSON(ctx, nodes, pe, &vrfs, "vrf"); err == nil {
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
			parts = append(parts, fmt.Sprintf("%s bgp %d/%d routes %d", pe, up, len(ns), imported))
		}
		// A line whenever something moved: readable on a terminal and in
		// a CI log alike.
		if line := strings.Join(parts, ", "); line != last {
			fmt.Fprintf(w, "  %5.1fs  %s\n", time.Since(start).Seconds(), line)
			last = line
		}
		if done {
			return true, nil
		}
		if time.Since(start) > convergeTimeout || ctx.Err() != nil {
			return false, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// pings runs the pings the CE nodes' labels ask for and reports how many
// were sent and answered, and the VRFs they covered.
func pings(ctx context.Context, topo *clab.Topology, nodes labNodes, w io.Writer) (sent, answered int, vrfs []string) {
	const count = 3
	for _, name := range slices.Sorted(maps.Keys(topo.Topology.Nodes)) {
		n := topo.Topology.Nodes[name]
		targets := pingTargets(n)
		vrf := n.Labels[clab.LabelVRF]
		if vrf != "" && len(targets) > 0 && !slices.Contains(vrfs, vrf) {
			vrfs = append(vrfs, vrf)
		}
		for _, dst := range targets {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			argv := []string{"ping", "-c", fmt.Sprint(count), "-i", "0.3", "-W", "2", dst}
			from := pingSource(n, dst)
			if from != "" {
				argv = slices.Insert(argv, 1, "-I", from)
			}
			out, _ := nodes.run(cctx, name, argv...)
			cancel()
			got := 0
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "bytes from") {
					got++
				}
			}
			sent += count
			answered += got
			if from != "" {
				from = " from " + from
			}
			fmt.Fprintf(w, "  %-10s (vrf %s) -> %-10s %d/%d replies%s\n", name, orDash(vrf), dst, got, count, from)
		}
	}
	return sent, answered, vrfs
}
