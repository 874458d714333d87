package interop_test

// Two Peregrine PEs keyed by IKEv2 with per-resource child SAs (RFC 9611,
// ipsec.ike-peers[].resources: 2): the PEs negotiate two child SAs with
// the same selectors, and flows from a dozen CE addresses, which each
// PE's TUN spreads over its queues, cross on both, each way.

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

func TestE2EIKEResources(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: the PEs have one TUN queue, so one SA would carry every flow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		c1, c2 := pelab.IKEConfigs(t, pe1, pe2)
		with := func(c string) string {
			// Long lifetimes: the counters stay on the same SAs.
			c = strings.Replace(c, pelab.IKELifetimes, "child-lifetime: {soft: 10m, hard: 20m}\n      ike-lifetime: {soft: 1h, hard: 2h}", 1)
			return strings.Replace(c, "dpd-interval: 2s", "dpd-interval: 2s\n      resources: 2", 1)
		}
		return with(c1), with(c2)
	})
	red1 := e.CE["ce-red-1"]
	pelab.WaitPing(t, ctx, red1, "10.2.0.2")
	var sources []string
	for i := range 12 {
		src := fmt.Sprintf("10.1.0.%d", 10+i)
		must(t, red1.AddAddr("eth0", netip.MustParsePrefix(src+"/24")))
		sources = append(sources, src)
	}

	// per-direction SPIs with packets, on pe.
	used := func(p *pe) (out, in map[uint32]uint64) {
		t.Helper()
		var sas []pelab.SA
		must(t, p.Get(ctx, "/v1/ipsec/sa", &sas))
		out, in = map[uint32]uint64{}, map[uint32]uint64{}
		for _, sa := range sas {
			if sa.Direction == "out" {
				out[sa.SPI] = sa.Packets
			} else {
				in[sa.SPI] = sa.Packets
			}
		}
		return out, in
	}
	busy := func(m map[uint32]uint64) int {
		n := 0
		for _, p := range m {
			if p > 0 {
				n++
			}
		}
		return n
	}
	// The extra child seals OutSwitchDelay after it is up: ping until
	// both SAs of each direction of each PE carried some.
	var out1, in1, out2, in2 map[uint32]uint64
	for deadline := time.Now().Add(60 * time.Second); ; {
		for _, src := range sources {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			if out, err := red1.Exec(pctx, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-I", src, "10.2.0.2"); err != nil {
				t.Logf("ping from %s: %v\n%s", src, err, out)
			}
			pcancel()
		}
		out1, in1 = used(e.PE1)
		out2, in2 = used(e.PE2)
		if busy(out1) >= 2 && busy(in1) >= 2 && busy(out2) >= 2 && busy(in2) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range []*pe{e.PE1, e.PE2} {
				for _, l := range strings.Split(p.Proc.LogTail(1000000), "\n") {
					if strings.Contains(l, "resource") || strings.Contains(l, "child SA up") || strings.Contains(l, "CREATE_CHILD") {
						t.Logf("%s: %s", p.Name, l)
					}
				}
			}
			t.Fatalf("SAs with packets: pe1 out %v in %v, pe2 out %v in %v; want two each way on each PE", out1, in1, out2, in2)
		}
	}
	t.Logf("packets per SPI: pe1 out %v in %v; pe2 out %v in %v", out1, in1, out2, in2)
	if len(out1) != 2 || len(in1) != 2 {
		t.Errorf("pe1 has %d outbound and %d inbound SAs, want 2 and 2 (two children)", len(out1), len(in1))
	}
	// Each PE picked its inbound SPIs on distinct receive sockets (SPI
	// mod one socket per CPU: esptransport.OpenSpread).
	for name, in := range map[string]map[uint32]uint64{"pe1": in1, "pe2": in2} {
		queues := map[uint32]bool{}
		for spi := range in {
			queues[spi%uint32(runtime.NumCPU())] = true
		}
		if len(queues) != len(in) {
			t.Errorf("%s: inbound SPIs %v share a receive socket of %d", name, in, runtime.NumCPU())
		}
	}
	for spi := range out1 {
		if _, ok := in2[spi]; !ok {
			t.Errorf("pe1 seals with SPI %#x, which pe2 does not open", spi)
		}
	}
	log := e.PE1.Proc.LogTail(1000000) + e.PE2.Proc.LogTail(1000000)
	if strings.Contains(log, pelab.IKEPSK) {
		t.Error("a PE logged the PSK")
	}
}
