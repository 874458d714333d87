package interop_test

// Fault: one of three PEs is killed (-9) under traffic and started again.
// Three PEs with manual keys on one core segment, iBGP full mesh with
// graceful restart (the default for VPN families), VRF red at each site:
//
//	ce-red-1 10.1.0.2 ─ce─ pe1 .1 ─┐
//	ce-red-2 10.2.0.2 ─ce─ pe2 .2 ─┼─ core: a bridge, 192.168.0.0/24
//	ce-red-3 10.3.0.2 ─ce─ pe3 .3 ─┘
//
// While pe1 is down, pe2 and pe3 keep its routes as stale (their tables
// do not change), and traffic between sites 2 and 3 never stops: not one
// echo lost. Once pe1 is back, site 3 reaches site 1 within
// peRestartResume of its start.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// threePEConfig is PE %[1]d's configuration; %[2]d and %[3]d are the
// others.
const threePEConfig = `
router: {id: 192.168.0.%[1]d, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors:
    - {address: 192.168.0.%[2]d, asn: 65000, local-address: 192.168.0.%[1]d, connect-retry: 1s, hold-time: 9s}
    - {address: 192.168.0.%[3]d, asn: 65000, local-address: 192.168.0.%[1]d, connect-retry: 1s, hold-time: 9s}
vrfs:
  - {name: red, rd: '65000:%[1]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [ce]}
ipsec:
  local-address: 192.168.0.%[1]d
  tunnels:
    - remote: 192.168.0.%[2]d
      out: {spi: 0x%[1]d00%[2]d, cipher: aes128gcm16, key-file: out%[2]d.key}
      in: {spi: 0x%[2]d00%[1]d, cipher: aes128gcm16, key-file: in%[2]d.key}
    - remote: 192.168.0.%[3]d
      out: {spi: 0x%[1]d00%[3]d, cipher: aes128gcm16, key-file: out%[3]d.key}
      in: {spi: 0x%[3]d00%[1]d, cipher: aes128gcm16, key-file: in%[3]d.key}
`

// threePEKey is the key from PE i to PE j (public test keys).
func threePEKey(i, j int) string { return strings.Repeat(fmt.Sprintf("%d%d", i, j), 20) }

func TestFaultPEKilledThreeSites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	l := netns.NewLab(t)
	node := func(name string) *netns.Node {
		n, err := l.AddNode(name)
		must(t, err)
		return n
	}
	core := node("core")
	pelab.MustExec(t, core, "ip", "link", "add", "br0", "type", "bridge")
	peNodes, ces, cfgs := make([]*netns.Node, 4), make([]*netns.Node, 4), make([]string, 4)
	for i := 1; i <= 3; i++ {
		n, c := node(fmt.Sprintf("pe%d", i)), node(fmt.Sprintf("ce-red-%d", i))
		peNodes[i], ces[i] = n, c
		port := fmt.Sprintf("p%d", i)
		must(t, l.Link(n, "core", core, port))
		must(t, n.AddAddr("core", pfx(fmt.Sprintf("192.168.0.%d/24", i))))
		pelab.MustExec(t, core, "ip", "link", "set", port, "master", "br0")
		pelab.Link(t, l, n, "ce", fmt.Sprintf("10.%d.0.1/24", i), c, "eth0", fmt.Sprintf("10.%d.0.2/24", i))
		pelab.MustExec(t, c, "ip", "route", "add", "default", "via", fmt.Sprintf("10.%d.0.1", i))
		var others []int
		for j := 1; j <= 3; j++ {
			if j != i {
				others = append(others, j)
				pelab.WriteSecret(t, n, fmt.Sprintf("out%d.key", j), threePEKey(i, j))
				pelab.WriteSecret(t, n, fmt.Sprintf("in%d.key", j), threePEKey(j, i))
			}
		}
		cfgs[i] = fmt.Sprintf(threePEConfig, i, others[0], others[1])
	}
	pelab.MustExec(t, core, "ip", "link", "set", "br0", "up")
	pes := make([]*pe, 4)
	for i := 1; i <= 3; i++ {
		pes[i] = startPE(t, peNodes[i], cfgs[i])
	}
	for i := 1; i <= 3; i++ {
		var want []string
		for j := 1; j <= 3; j++ {
			if j != i {
				want = append(want, fmt.Sprintf("10.%d.0.0/24 via 192.168.0.%d label * rd 65000:%d1", j, j, j))
			}
		}
		pes[i].WaitImported(t, ctx, "red", want...)
	}
	pelab.WaitPing(t, ctx, ces[2], "10.3.0.2")
	pelab.WaitPing(t, ctx, ces[3], "10.2.0.2")
	pelab.WaitPing(t, ctx, ces[3], "10.1.0.2")
	before := map[int][]string{2: pes[2].VRFTable(t, ctx, "red"), 3: pes[3].VRFTable(t, ctx, "red")}

	// Sites 2 and 3, both ways, at 10/s for 25 s: pe1 dies 2 s in.
	p23 := pelab.StartPing(ces[2], "10.3.0.2", 250, 100*time.Millisecond)
	p32 := pelab.StartPing(ces[3], "10.2.0.2", 250, 100*time.Millisecond)
	time.Sleep(2 * time.Second)
	must(t, syscall.Kill(pes[1].Proc.Pid(), syscall.SIGKILL))
	<-pes[1].Proc.Done()
	killed := time.Now()

	// pe1 down for 5 s: its routes stay at pe2 and pe3, stale.
	for time.Since(killed) < 5*time.Second {
		for i, want := range before {
			if got := pes[i].VRFTable(t, ctx, "red"); !slices.Equal(got, want) {
				t.Fatalf("pe%d's red changed %v after pe1 died, with graceful restart:\nbefore %v\nafter  %v", i, time.Since(killed), want, got)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := pelab.Ping(ces[3], "10.1.0.2", 1); err == nil {
		t.Error("site 3 reached site 1 while pe1 was down")
	}

	pes[1] = startPE(t, peNodes[1], cfgs[1]) // same node: same state directory
	started := time.Now()
	resume := time.Duration(-1)
	for ctx.Err() == nil && time.Since(started) < 2*peRestartResume {
		if pelab.Ping(ces[3], "10.1.0.2", 1) == nil {
			resume = time.Since(started)
			break
		}
	}
	switch {
	case resume < 0:
		t.Errorf("site 3 did not reach site 1 within %v of pe1's start", 2*peRestartResume)
	case resume > peRestartResume:
		t.Errorf("site 3 reached site 1 %v after pe1's start, want within %v", resume, peRestartResume)
	default:
		t.Logf("site 3 reached site 1 again %v after pe1's start", resume.Round(10*time.Millisecond))
	}

	for what, p := range map[string]*pelab.PingRun{"site 2 -> site 3": p23, "site 3 -> site 2": p32} {
		if lost := p.Lost(t); len(lost) > 0 {
			t.Errorf("ping %s across pe1's kill and restart: echoes sent at %v lost, want none", what, lost)
		}
	}
	for i, want := range before {
		pes[i].WaitTable(t, ctx, "red", want)
	}
}
