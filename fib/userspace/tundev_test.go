package userspace

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestTUNQueuesSpreadFlows: a VRF's TUN with two queues gets the packets
// of 16 flows (UDP, distinct source ports) on both queues, each flow on
// one of them: the kernel spreads the flows, and so the readers' crypto.
func TestTUNQueuesSpreadFlows(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		td, err := createTUN(h, "pgqtest", 1500, 2)
		if err != nil {
			t.Fatal(err)
		}
		link, _ := h.LinkByName("pgqtest")
		ad, _ := netlink.ParseAddr("10.99.0.254/16")
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		var perQueue [2]atomic.Int64
		flowQueue := sync.Map{} // source port -> queue
		for qi, q := range td.queues {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bufs := newBufs(q.BatchSize(), outBufSize(1500))
				sizes := make([]int, len(bufs))
				for {
					n, err := q.Read(bufs, sizes, outHeadroom)
					if err != nil {
						return // closed
					}
					for i := range n {
						p := bufs[i][outHeadroom : outHeadroom+sizes[i]]
						if len(p) < 28 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
							continue
						}
						perQueue[qi].Add(1)
						sport := int(p[20])<<8 | int(p[21])
						if prev, loaded := flowQueue.LoadOrStore(sport, qi); loaded && prev.(int) != qi {
							t.Errorf("flow from port %d read on queues %d and %d", sport, prev, qi)
						}
					}
				}
			}()
		}
		for i := range 16 {
			c, err := net.DialUDP("udp4", &net.UDPAddr{Port: 40000 + i}, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 9})
			if err != nil {
				t.Fatal(err)
			}
			for range 4 {
				_, _ = c.Write([]byte("peregrine"))
			}
			c.Close()
		}
		time.Sleep(300 * time.Millisecond)
		td.close()
		wg.Wait()
		if perQueue[0].Load() == 0 || perQueue[1].Load() == 0 || perQueue[0].Load()+perQueue[1].Load() != 64 {
			t.Errorf("packets per queue %d and %d; want 64 in all, on both queues", perQueue[0].Load(), perQueue[1].Load())
		}
	})
}

// TestTUNHasNoQdisc: a VRF's TUN comes up with noqueue as its root
// qdisc, not mq and a default qdisc for each of its 256 transmit queues,
// which cost 7 ms and kernel memory per VRF.
func TestTUNHasNoQdisc(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		td, err := createTUN(h, "pgnoq", 1500, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer td.close()
		link, err := h.LinkByName("pgnoq")
		if err != nil {
			t.Fatal(err)
		}
		qs, err := h.QdiscList(link)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.Type() != "noqueue" {
				t.Errorf("TUN qdisc %s (parent %x), want only noqueue", q.Type(), q.Attrs().Parent)
			}
		}
	})
}

// TestClosingManyTUNsOverlapsTheKernelsWaits: closeTUNs overlaps the
// kernel's waits (each queue's close waits for an RCU grace period), so
// a daemon with thousands of VRFs stops within its supervisor's
// patience. It compares, in one run, the time per TUN of closing 20 TUNs
// one after another with closeTUNs closing 100: a ratio, not a wall-time
// bound, because these machines are shared and noisy.
func TestClosingManyTUNsOverlapsTheKernelsWaits(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		create := func(prefix string, n int) []*tunDev {
			var tds []*tunDev
			for i := range n {
				td, err := createTUN(h, fmt.Sprintf("%s%d", prefix, i), 1500, 2)
				if err != nil {
					t.Fatal(err)
				}
				tds = append(tds, td)
			}
			return tds
		}
		one := create("pgs", 20)
		start := time.Now()
		for _, td := range one {
			if err := td.close(); err != nil {
				t.Fatal(err)
			}
		}
		sequential := time.Since(start) / time.Duration(len(one))
		many := create("pgc", 100)
		start = time.Now()
		if err := closeTUNs(many); err != nil {
			t.Fatal(err)
		}
		overlapped := time.Since(start) / time.Duration(len(many))
		t.Logf("per TUN: %v one after another, %v through closeTUNs", sequential, overlapped)
		if overlapped*4 > sequential {
			t.Errorf("closeTUNs took %v per TUN against %v one after another: want at least 4x faster", overlapped, sequential)
		}
		if links, _ := h.LinkList(); len(links) > 1 {
			t.Errorf("%d links left after closing, want only lo", len(links))
		}
	})
}
