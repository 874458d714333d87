package userspace

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestGatewayQueuesSealPerResource: a remote PE's Gateway TUN opened as
// Apply opens it (openMPLSTUNQueues, two queues) gets 16 flows that the
// kernel labels ("encap mpls", as fib/kernel routes into it) spread over
// both queues, and each queue's reader (readPeer's seal step,
// outboundLabeledLane with the queue's lane) seals with its own SA:
// queue 0 with 0x1001, queue 1 with 0x1002, so both SAs are used. A
// kernel without MPLS routing (no mpls_iptunnel) routes the flows in
// plain IPv4 instead, and the readers push the label themselves.
func TestGatewayQueuesSealPerResource(t *testing.T) {
	gw := newTestGateway(t, pe1Addr, pe1Resources().Tunnels)
	p := gw.peer(pe2Addr)
	inNewNS(t, func(h *netlink.Handle) {
		const name = "pgesp-qtest"
		queues, err := openMPLSTUNQueues(h, name, 1508, 2)
		if err != nil {
			t.Fatal(err)
		}
		link, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		src, _ := netlink.ParseAddr("10.98.0.254/24")
		if err := h.AddrAdd(link, src); err != nil {
			t.Fatal(err)
		}
		_, dst, _ := net.ParseCIDR("10.99.0.0/16")
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst, Encap: &netlink.MPLSEncap{Labels: []int{2001}}}
		pushLabel := false
		err = h.RouteAdd(route)
		if errors.Is(err, unix.EOPNOTSUPP) {
			t.Logf("no MPLS routing in this kernel (%v): routing plain IPv4, labelled by the readers", err)
			route.Encap, pushLabel = nil, true
			err = h.RouteAdd(route)
		}
		if err != nil {
			for _, q := range queues {
				q.Close()
			}
			t.Fatal(err)
		}

		var mu sync.Mutex
		spis := map[int]map[uint32]int{} // queue -> SPI -> packets
		var wg sync.WaitGroup
		for lane, q := range queues {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := &vrf{name: name}
				bufs := newBufs(1, outBufSize(1500))
				sizes := make([]int, 1)
				for {
					if _, err := q.Read(bufs, sizes, outHeadroom); err != nil {
						return // closed
					}
					buf, n := bufs[0], sizes[0]
					if pushLabel {
						if binary.BigEndian.Uint16(buf[outHeadroom-2:]) != unix.ETH_P_IP {
							continue
						}
						copy(buf[outHeadroom+4:], buf[outHeadroom:outHeadroom+n])
						binary.BigEndian.PutUint32(buf[outHeadroom:], 2001<<12|1<<8|64)
						binary.BigEndian.PutUint16(buf[outHeadroom-2:], etherTypeMPLS)
						n += 4
					}
					pkt, _, why := gw.outboundLabeledLane(v, p, lane, buf, outHeadroom, n)
					if why != dropNone {
						continue // IPv6 router solicitations and the like: not MPLS
					}
					mu.Lock()
					if spis[lane] == nil {
						spis[lane] = map[uint32]int{}
					}
					spis[lane][binary.BigEndian.Uint32(pkt)]++
					mu.Unlock()
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
		for _, q := range queues {
			q.Close()
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		want := map[int]uint32{0: 0x1001, 1: 0x1002}
		total := 0
		for lane, w := range want {
			for spi, n := range spis[lane] {
				total += n
				if spi != w {
					t.Errorf("queue %d sealed %d packets with SPI %#x, want %#x", lane, n, spi, w)
				}
			}
			if spis[lane][w] == 0 {
				t.Errorf("queue %d sealed nothing with SPI %#x (per queue: %v)", lane, w, spis)
			}
		}
		if total != 64 {
			t.Errorf("%d packets sealed, want 64 (per queue: %v)", total, spis)
		}
	})
}
