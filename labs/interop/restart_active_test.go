package interop_test

// Two Peregrine PEs that both connect actively to each other, the
// configuration users write (each lists the other under bgp.neighbors,
// neither passive, default timers), in the manual-key E2E lab
// (e2e_test.go):
//
//	ce-red-1 ─ce1┐ pe1 ══ core ══ pe2 ┌ce3─ ce-red-2
//	ce-blue-1 ─ce2┘ ✝ kill -9, start  └ce4─ ce-blue-2
//
// pe1 is killed and started again at once, before pe2 has noticed
// anything but the kernel's close of the dead daemon's connection. Both
// sessions must be Established again within restartEstablished of pe1's
// start, not when a hold timer or a connect-retry timer runs out.
//
// GoBGP v3.37.0 alone does not: each FSM that falls to Idle holds it a
// fixed 5 s and closes connections handed to it there, and the two sides'
// dials kept landing in each other's Idle for the whole 150 s a run was
// given (bgp/startlisten.go has the details). A restarted speaker now
// listens before it dials (bgp/startlisten.go).

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// restartEstablished bounds how long after the restarted pe1 starts both
// PEs have the session Established again: pe1's start-up, GoBGP's idle
// hold (5 s), its first dial (up to 2 s) and one OPEN exchange; seen at
// 6.1 to 6.7 s.
const restartEstablished = 20 * time.Second

// restartActiveConfig is e2eConfig without the lab's short timers: the
// neighbor as a user writes it.
const restartActiveConfig = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: %[2]s, asn: 65000, local-address: %[1]s}]
vrfs:
  - {name: red, rd: '65000:%[3]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[4]s]}
  - {name: blue, rd: '65000:%[3]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[5]s]}
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[2]s
      out: {spi: %[6]d, cipher: aes128gcm16, key-file: out.key}
      in: {spi: %[7]d, cipher: aes128gcm16, key-file: in.key}
`

func TestRestartBothActiveReestablishes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		pelab.WriteKeys(t, pe1, pelab.KeyAB, pelab.KeyBA)
		pelab.WriteKeys(t, pe2, pelab.KeyBA, pelab.KeyAB)
		return fmt.Sprintf(restartActiveConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", 0x1001, 0x2001),
			fmt.Sprintf(restartActiveConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", 0x2001, 0x1001)
	})
	waitEstablished(t, ctx, e.PE1, e.PE2)

	must(t, syscall.Kill(e.PE1.Proc.Pid(), syscall.SIGKILL))
	<-e.PE1.Proc.Done()
	e.PE1 = startPE(t, e.PE1.Node, e.Cfg1) // same node: same state directory
	started := time.Now()

	wait, cancelWait := context.WithTimeout(ctx, restartEstablished)
	defer cancelWait()
	var seen []string // each change of the two PEs' states, for the failure message
	last := ""
	for {
		s1, s2 := neighborState(wait, e.PE1), neighborState(wait, e.PE2)
		if now := s1 + "/" + s2; now != last {
			seen = append(seen, fmt.Sprintf("%6.2fs pe1 %s", time.Since(started).Seconds(), now))
			last = now
		}
		if s1 == "established" && s2 == "established" {
			break
		}
		if wait.Err() != nil {
			t.Fatalf("not established on both PEs %v after the restarted pe1 started (pe1/pe2):\n%s\npe1 log:\n%s\npe2 log:\n%s",
				restartEstablished, strings.Join(seen, "\n"), e.PE1.Proc.LogTail(40), e.PE2.Proc.LogTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("both established %v after pe1's restart:\n%s", time.Since(started).Round(10*time.Millisecond), strings.Join(seen, "\n"))
	e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", "fd00:1::/64 via 192.168.0.1 label * rd 65000:11")
	e.PE1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 192.168.0.2 label * rd 65000:21", "fd00:2::/64 via 192.168.0.2 label * rd 65000:21")
	pelab.WaitPing(t, ctx, e.CE["ce-red-2"], "10.1.0.2")
}

// neighborState returns the state of p's single neighbor, or why there is
// none to read.
func neighborState(ctx context.Context, p *pe) string {
	ns, err := p.Neighbors(ctx)
	switch {
	case err != nil:
		return "(no API)"
	case len(ns) != 1:
		return fmt.Sprintf("(%d neighbors)", len(ns))
	}
	return ns[0].State
}

// waitEstablished waits until every PE has its single neighbor established.
func waitEstablished(t *testing.T, ctx context.Context, pes ...*pe) {
	t.Helper()
	for _, p := range pes {
		for neighborState(ctx, p) != "established" {
			if ctx.Err() != nil {
				t.Fatalf("%s: neighbor not established", p.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
