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

// TestClosingManyTUNsOverlapsTheKernelsWaits: 100 TUNs close in well
// under the 1.9 s that closing them one after another takes here (each
// queue's close waits for an RCU grace period), so a daemon with
// thousands of VRFs stops within its supervisor's patience.
func TestClosingManyTUNsOverlapsTheKernelsWaits(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		var tds []*tunDev
		for i := range 100 {
			td, err := createTUN(h, fmt.Sprintf("pgc%d", i), 1500, 2)
			if err != nil {
				t.Fatal(err)
			}
			tds = append(tds, td)
		}
		start := time.Now()
		if err := closeTUNs(tds); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("closing 100 TUNs took %v, want under 1 s", took)
		}
		if links, _ := h.LinkList(); len(links) > 1 {
			t.Errorf("%d links left after closing, want only lo", len(links))
		}
	})
}
