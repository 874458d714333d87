package userspace

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// TestNetnsResources: two PEs in namespaces (netns_test.go's lab) with
// two per-resource SA pairs (RFC 9611) each way: pings from a dozen CE
// addresses, flows the TUN spreads over its queues, all cross, and each
// of the four SAs seals (the sender) and opens (the receiver, one UDP
// socket of the group per SA) some of them.
func TestNetnsResources(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the namespace lab")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: one TUN queue and one receiver, so one SA would carry everything")
	}
	l := &lab{t: t, lab: netns.NewLab(t), node: map[string]*netns.Node{}}
	l.build()
	pe1 := l.startPEAs("pe1", "pe1-resources")
	pe2 := l.startPEAs("pe2", "pe2-resources")
	const sources = 12
	for i := range sources {
		src := fmt.Sprintf("10.1.0.%d", 10+i)
		l.must(l.node["ce-red-1"].AddAddr("eth0", pfx(src+"/24")))
		l.exec("ce-red-1", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-I", src, "10.2.0.2")
	}
	s1, s2 := l.stopPE(pe1), l.stopPE(pe2)
	sealed, opened := map[uint32]uint64{}, map[uint32]uint64{}
	for _, c := range append(s1.SAs, s2.SAs...) {
		if c.Outbound {
			sealed[c.SPI] += c.SealedPackets
		} else {
			opened[c.SPI] += c.OpenedPackets
		}
	}
	t.Logf("sealed per SPI %v, opened per SPI %v", sealed, opened)
	for _, spi := range []uint32{0x1001, 0x1002, 0x2001, 0x2002} {
		if sealed[spi] == 0 || opened[spi] == 0 {
			t.Errorf("SA %#x sealed %d and opened %d packets: want some each", spi, sealed[spi], opened[spi])
		}
	}
	if total := sealed[0x1001] + sealed[0x1002]; total != 2*sources {
		t.Errorf("pe1 sealed %d echo requests, want %d", total, 2*sources)
	}
}
