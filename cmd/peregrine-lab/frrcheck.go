package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/peregrine-net/peregrine/labs/clab"
)

// The FRR nodes of a lab (CEs, route reflectors) are judged by FRR's own
// answers, read through vtysh: their BGP sessions, and for a CE the
// route zebra chose for each address its labels ping.

// frrSession is one BGP neighbor of an FRR node, from `show bgp neighbors
// json`.
type frrSession struct {
	Address  string
	State    string `json:"bgpState"`
	RemoteAS uint32 `json:"remoteAs"`
	Desc     string `json:"nbrDesc"`
}

// frrSessions returns node's BGP neighbors, sorted by address.
func frrSessions(ctx context.Context, nodes labNodes, node string) ([]frrSession, error) {
	out, err := nodes.vtysh(ctx, node, "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	var m map[string]frrSession
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("node %s: show bgp neighbors json: %v", node, err)
	}
	var ss []frrSession
	for _, a := range slices.Sorted(maps.Keys(m)) {
		s := m[a]
		s.Address = a
		ss = append(ss, s)
	}
	return ss, nil
}

// frrRoutedByBGP reports whether the route zebra selected on node for dst
// (longest match) was learned by BGP: the CE's way to another site. A
// default route (a container's management network) does not count.
func frrRoutedByBGP(ctx context.Context, nodes labNodes, node, dst string) (bool, error) {
	a, err := netip.ParseAddr(dst)
	if err != nil {
		return false, err
	}
	cmd := "show ip route " + dst + " json"
	if a.Is6() {
		cmd = "show ipv6 route " + dst + " json"
	}
	out, err := nodes.vtysh(ctx, node, cmd)
	if err != nil {
		return false, err
	}
	var m map[string][]struct {
		Protocol string `json:"protocol"`
		Selected bool   `json:"selected"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return false, fmt.Errorf("node %s: %s: %v", node, cmd, err)
	}
	for _, rs := range m {
		for _, r := range rs {
			if r.Selected && r.Protocol == "bgp" {
				return true, nil
			}
		}
	}
	return false, nil
}

// frrState is how far an FRR node has come: its sessions up, and for a
// CE its ping targets routed by BGP.
type frrState struct {
	up, sessions   int
	routed, target int
	down           []string // "10.1.0.1 Active" for each session not up
}

func (s frrState) done() bool {
	return s.sessions > 0 && s.up == s.sessions && s.routed == s.target
}

func (s frrState) String() string {
	str := fmt.Sprintf("bgp %d/%d", s.up, s.sessions)
	if s.target > 0 {
		str += fmt.Sprintf(" routes %d/%d", s.routed, s.target)
	}
	return str
}

// frrProgress reads an FRR node's state; a node whose vtysh does not
// answer yet has no sessions.
func frrProgress(ctx context.Context, topo *clab.Topology, nodes labNodes, node string) frrState {
	var st frrState
	ss, err := frrSessions(ctx, nodes, node)
	if err == nil {
		st.sessions = len(ss)
		for _, s := range ss {
			if s.State == "Established" {
				st.up++
			} else {
				st.down = append(st.down, s.Address+" "+s.State)
			}
		}
	}
	for _, dst := range pingTargets(topo.Topology.Nodes[node]) {
		st.target++
		if ok, err := frrRoutedByBGP(ctx, nodes, node, dst); err == nil && ok {
			st.routed++
		}
	}
	return st
}

// frrNodes are the topology's FRR nodes, sorted.
func frrNodes(topo *clab.Topology) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(topo.Topology.Nodes)) {
		if topo.Topology.Nodes[name].Role() == clab.RoleFRR {
			out = append(out, name)
		}
	}
	return out
}

// printFRRSessions prints one line per BGP session of every FRR node, and
// the IPv4 and IPv6 unicast tables of the first CE (an FRR node in a VRF):
// the AS paths the customer sees.
func printFRRSessions(ctx context.Context, topo *clab.Topology, nodes labNodes, w io.Writer) {
	frrs := frrNodes(topo)
	if len(frrs) == 0 {
		return
	}
	fmt.Fprintln(w, "== FRR routers' BGP sessions (vtysh: show bgp neighbors)")
	firstCE := ""
	for _, n := range frrs {
		vrf := topo.Topology.Nodes[n].Labels[clab.LabelVRF]
		if vrf != "" && firstCE == "" {
			firstCE = n
		}
		ss, err := frrSessions(ctx, nodes, n)
		if err != nil {
			fmt.Fprintf(w, "  %-10s %v\n", n, err)
			continue
		}
		for _, s := range ss {
			fmt.Fprintf(w, "  %-10s %-11s %-14s AS %-6d %-12s %s\n", n, "(vrf "+orDash(vrf)+")", s.Address, s.RemoteAS, s.State, s.Desc)
		}
	}
	if firstCE == "" {
		return
	}
	for _, cmd := range []string{"show bgp ipv4 unicast", "show bgp ipv6 unicast"} {
		fmt.Fprintf(w, "== %s: vtysh %s\n", firstCE, cmd)
		out, err := nodes.vtysh(ctx, firstCE, cmd)
		if err != nil {
			fmt.Fprintf(w, "  %v\n", err)
		}
		_, _ = w.Write(frrTable(out))
	}
}

// frrTable keeps the route lines of FRR's `show bgp` text: the header and
// the routes, not the legend.
func frrTable(b []byte) []byte {
	var out bytes.Buffer
	on := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "Network") && strings.Contains(l, "Next Hop") {
			on = true
		}
		if on && strings.TrimSpace(l) != "" {
			out.WriteString("  " + l + "\n")
		}
	}
	return out.Bytes()
}

// pingTargets are the addresses a node's labels ask it to ping.
func pingTargets(n clab.Node) []string {
	return splitList(n.Labels[clab.LabelPing])
}

// pingSource is the address of dst's family in the node's ping-from
// label, "" if none: the ping then leaves from the outgoing interface's.
func pingSource(n clab.Node, dst string) string {
	d, err := netip.ParseAddr(dst)
	if err != nil {
		return ""
	}
	for _, s := range splitList(n.Labels[clab.LabelPingFrom]) {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() == d.Is4() {
			return s
		}
	}
	return ""
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// sessionsDown is " (10.1.0.1 Active, ...)" for the sessions not up.
func sessionsDown(down []string) string {
	if len(down) == 0 {
		return ""
	}
	return " (" + strings.Join(down, ", ") + ")"
}
