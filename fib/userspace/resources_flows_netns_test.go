package userspace

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// TestNetnsResourceFlowsSymmetric: flows that start behind PE2 and are
// answered behind PE1 (UDP with replies, as TCP is) spread over both
// per-resource SA pairs both ways. PE2's TUN hands each new flow to a
// queue by its hash, so PE2 seals it with that lane's SA; PE1 must write
// what that SA opens on the same lane's queue, so that its TUN, which
// learns a flow's queue from the packets written to it, sends the replies
// to that queue and they are sealed with the lane's SA too. Written all
// on queue 0, every reply went out on lane 0 (issue 21: 10 million
// packets on one SPI, 11 on the other).
func TestNetnsResourceFlowsSymmetric(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the namespace lab")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: one TUN queue, so one SA would carry everything")
	}
	l := &lab{t: t, lab: netns.NewLab(t), node: map[string]*netns.Node{}}
	l.build()
	pe1 := l.startPEAs("pe1", "pe1-resources")
	pe2 := l.startPEAs("pe2", "pe2-resources")

	// The answering side, behind PE1: an echo server.
	var srv *net.UDPConn
	l.must(netns.Do(l.node["ce-red-1"].Namespace(), func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP("10.1.0.2"), Port: 7007})
		return err
	}))
	defer srv.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:n], from)
		}
	}()
	// The flows, started behind PE2: each its own source port.
	const flows, rounds = 24, 3
	clients := make([]*net.UDPConn, flows)
	l.must(netns.Do(l.node["ce-red-2"].Namespace(), func() error {
		for i := range clients {
			c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP("10.2.0.2")},
				&net.UDPAddr{IP: net.ParseIP("10.1.0.2"), Port: 7007})
			if err != nil {
				return err
			}
			clients[i] = c
		}
		return nil
	}))
	answered := 0
	buf := make([]byte, 1500)
	for range rounds {
		for _, c := range clients {
			if _, err := c.Write([]byte("flow")); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err == nil {
				answered++
			}
		}
	}
	for _, c := range clients {
		c.Close()
	}
	s1, s2 := l.stopPE(pe1), l.stopPE(pe2)
	sealed := map[uint32]uint64{}
	for _, c := range append(s1.SAs, s2.SAs...) {
		if c.Outbound {
			sealed[c.SPI] += c.SealedPackets
		}
	}
	t.Logf("%d of %d requests answered; sealed per SPI %v", answered, flows*rounds, sealed)
	if answered < flows*rounds*9/10 {
		t.Fatalf("%d of %d requests answered", answered, flows*rounds)
	}
	// PE2's lanes carry the requests, PE1's the replies: both lanes
	// each way, and, flow by flow, PE1 answers on the lane PE2 asked on.
	for _, spi := range []uint32{0x1001, 0x1002, 0x2001, 0x2002} {
		if sealed[spi] == 0 {
			t.Errorf("SA %#x sealed nothing: want some flows on each lane each way", spi)
		}
	}
	for _, pair := range [][2]uint32{{0x2001, 0x1001}, {0x2002, 0x1002}} {
		if asked, replied := sealed[pair[0]], sealed[pair[1]]; replied+replied/10+2 < asked || asked+asked/10+2 < replied {
			t.Errorf("PE2 sealed %d on SA %#x, PE1 %d on its pair %#x: want about as many (each flow's replies on its requests' lane)",
				asked, pair[0], replied, pair[1])
		}
	}
}
