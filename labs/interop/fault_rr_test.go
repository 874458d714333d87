package interop_test

// Fault: one of two route reflectors dies. The E2E lab's PEs peer with
// two gobgpd reflectors instead of each other; each reflector reaches the
// PEs' core addresses over its own links:
//
//	            rr1 10.255.0.1        rr2 10.255.0.2
//	            /        \            /        \
//	ce-red-1 ─ pe1 ═══════ core (ESP) ═══════ pe2 ─ ce-red-2
//	ce-blue-1 ─'  192.168.0.1      192.168.0.2 '─ ce-blue-2
//
// Each PE gets every route from both reflectors. rr1 is killed (-9) while
// CEs of both VRFs ping across at 10/s: no route is withdrawn at either
// PE (the VRF tables read through the local API never change) and no echo
// is lost, since the reflectors carry no traffic.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// rrNeighbors is the PE neighbor list for the reflectors: one entry per
// reflector address, sessions from the PE's core address.
func rrNeighbors(local string, rrs ...string) string {
	s := "neighbors: ["
	for i, rr := range rrs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("{address: %s, asn: 65000, local-address: %s, connect-retry: 1s, hold-time: 9s}", rr, local)
	}
	return s + "]"
}

var neighborsLine = regexp.MustCompile(`neighbors: \[.*\]`)

// startReflector links a gobgpd route reflector to both PEs
// (linkReflector) and starts it.
func startReflector(t *testing.T, ctx context.Context, pe1, pe2 *netns.Node, n int, rrAddr string) *peers.GoBGP {
	t.Helper()
	rr := linkReflector(t, pe1, pe2, n, rrAddr)
	g, err := peers.StartGoBGP(ctx, rr, peers.GoBGPConfig{Config: reflectorConfig(rrAddr)})
	must(t, err)
	return g
}

// reflectorConfig is a reflector's configuration: both PEs as clients.
func reflectorConfig(rrAddr string) peers.Config {
	return peers.Config{
		RouterID: addr(rrAddr), ASN: 65000,
		Neighbors: []peers.NeighborConfig{
			{Address: addr("192.168.0.1"), RemoteAS: 65000, LocalAddress: addr(rrAddr), RRClient: true},
			{Address: addr("192.168.0.2"), RemoteAS: 65000, LocalAddress: addr(rrAddr), RRClient: true},
		},
	}
}

// linkReflector adds a reflector's node rrN, with its router address
// rrAddr on its loopback, linked to both PEs, n (1, 2, ...) numbering its
// links 10.0.n1.0/24 (pe1) and 10.0.n2.0/24 (pe2).
func linkReflector(t *testing.T, pe1, pe2 *netns.Node, n int, rrAddr string) *netns.Node {
	t.Helper()
	l := pe1.Lab()
	rr, err := l.AddNode(fmt.Sprintf("rr%d", n))
	must(t, err)
	must(t, rr.AddAddr("lo", pfx(rrAddr+"/32")))
	for i, p := range []struct {
		node *netns.Node
		core string
	}{{pe1, "192.168.0.1"}, {pe2, "192.168.0.2"}} {
		subnet := fmt.Sprintf("10.0.%d%d", n, i+1)
		pelab.Link(t, l, rr, fmt.Sprintf("rr-pe%d", i+1), subnet+".1/24", p.node, fmt.Sprintf("pe-rr%d", n), subnet+".2/24")
		pelab.MustExec(t, rr, "ip", "route", "add", p.core+"/32", "via", subnet+".2")
		pelab.MustExec(t, p.node, "ip", "route", "add", rrAddr+"/32", "via", subnet+".1")
	}
	return rr
}

func TestFaultOneOfTwoReflectorsDies(t *testing.T) {
	peers.RequireGoBGP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var rr1, rr2 *peers.GoBGP
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		rr1 = startReflector(t, ctx, pe1, pe2, 1, "10.255.0.1")
		rr2 = startReflector(t, ctx, pe1, pe2, 2, "10.255.0.2")
		cfg1, cfg2 := pelab.ManualKeyConfigs(t, pe1, pe2)
		return neighborsLine.ReplaceAllLiteralString(cfg1, rrNeighbors("192.168.0.1", "10.255.0.1", "10.255.0.2")),
			neighborsLine.ReplaceAllLiteralString(cfg2, rrNeighbors("192.168.0.2", "10.255.0.1", "10.255.0.2"))
	})
	// Both reflectors carry both PEs' routes before the fault.
	must(t, peers.WaitEstablished(ctx, rr1, addr("192.168.0.1"), addr("192.168.0.2")))
	must(t, peers.WaitEstablished(ctx, rr2, addr("192.168.0.1"), addr("192.168.0.2")))
	red1, blue2 := e.CE["ce-red-1"], e.CE["ce-blue-2"]
	pelab.WaitPing(t, ctx, red1, "10.2.0.2")
	pelab.WaitPing(t, ctx, blue2, "10.1.0.2")

	type table struct {
		pe  *pe
		vrf string
	}
	tables := []table{{e.PE1, "red"}, {e.PE1, "blue"}, {e.PE2, "red"}, {e.PE2, "blue"}}
	before := make([][]string, len(tables))
	for i, tb := range tables {
		before[i] = tb.pe.VRFTable(t, ctx, tb.vrf)
	}

	pRed := pelab.StartPing(red1, "10.2.0.2", 100, 100*time.Millisecond) // 10 s at 10/s
	pBlue := pelab.StartPing(blue2, "10.1.0.2", 100, 100*time.Millisecond)
	time.Sleep(3 * time.Second)
	must(t, syscall.Kill(rr1.Process().Pid(), syscall.SIGKILL))
	killed := time.Now()
	// Watch the tables from the kill to past the end of the pings: a
	// withdrawal follows the session's end at once (the kernel resets
	// the reflector's TCP connections), so 8 s is ample to see one.
	for time.Since(killed) < 8*time.Second {
		for i, tb := range tables {
			if got := tb.pe.VRFTable(t, ctx, tb.vrf); !slices.Equal(got, before[i]) {
				t.Fatalf("%s vrf %s changed %v after rr1 died:\nbefore %v\nafter  %v\n%s log:\n%s",
					tb.pe.Name, tb.vrf, time.Since(killed), before[i], got, tb.pe.Name, tb.pe.Proc.LogTail(30))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The bound: no echo lost at all, the kill instant included.
	for what, p := range map[string]*pelab.PingRun{"red1 -> red2": pRed, "blue2 -> blue1": pBlue} {
		if lost := p.Lost(t); len(lost) > 0 {
			t.Errorf("ping %s while rr1 dies: echoes sent at %v lost, want none", what, lost)
		}
	}

	// The sessions with rr2 never dropped.
	for _, p := range []*pe{e.PE1, e.PE2} {
		s := p.Sessions(t, ctx)
		if n := s["10.255.0.2"]; n.State != "established" || n.Uptime < time.Since(killed) {
			t.Errorf("%s: session with rr2 %s up %v, want established since before the kill", p.Name, n.State, n.Uptime)
		}
		if n := s["10.255.0.1"]; n.State == "established" {
			t.Errorf("%s: session with the killed rr1 still established", p.Name)
		}
	}
}
