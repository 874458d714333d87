package userspace

import (
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestTUNQueueAttachesOnTrafficAndLetsGoWhenIdle: a queue holds no
// tun.Device until a packet comes, reads it through one, and closes it
// once it has been idle for queueIdleAfter; the next packet makes one
// again, and a Write to an idle queue does too.
func TestTUNQueueAttachesOnTrafficAndLetsGoWhenIdle(t *testing.T) {
	defer func(d time.Duration) { queueIdleAfter = d }(queueIdleAfter)
	queueIdleAfter = 200 * time.Millisecond
	inNewNS(t, func(h *netlink.Handle) {
		td, err := createTUN(h, "pgidle", 1500, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer td.close()
		q := td.queues[0]
		link, _ := h.LinkByName("pgidle")
		ad, _ := netlink.ParseAddr("10.98.0.254/16")
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}
		got := make(chan int, 16)
		go func() { // the queue's reader, as readTUN waits and reads
			ready := newReadiness(q)
			bufs := newBufs(batchSize, outBufSize(1500))
			sizes := make([]int, len(bufs))
			for ready.wait() == nil {
				n, err := q.Read(bufs, sizes, outHeadroom)
				if err != nil {
					return
				}
				got <- n
			}
		}()
		time.Sleep(300 * time.Millisecond)
		if q.attached() {
			t.Fatal("a new queue with no traffic holds a tun.Device")
		}
		send := func() {
			t.Helper()
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 98, 0, 1), Port: 9})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write([]byte("peregrine"))
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("no packet read from the queue")
			}
		}
		send()
		if !q.attached() {
			t.Fatal("a queue that read a packet holds no tun.Device")
		}
		waitFor := func(want bool, what string) {
			t.Helper()
			for deadline := time.Now().Add(5 * time.Second); q.attached() != want; {
				if time.Now().After(deadline) {
					t.Fatal(what)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitFor(false, "an idle queue still holds its tun.Device after 5 s")
		send()
		waitFor(false, "the queue did not let go of its device a second time")

		// Inbound: a write to an idle queue makes its device.
		pkt := ipv4("10.98.0.1", "10.98.0.254", 64, 28)
		buf := make([]byte, tunOffset+len(pkt))
		copy(buf[tunOffset:], pkt)
		if _, err := q.Write([][]byte{buf}, tunOffset); err != nil {
			t.Fatalf("writing to an idle queue: %v", err)
		}
		if !q.attached() {
			t.Fatal("a queue written to holds no tun.Device")
		}
		waitFor(false, "a queue written to once still holds its device after 5 s")
	})
}

// TestTUNQueueAllocs: once its device is made, a queue's Write and Read
// allocate nothing (the lock and the use mark included).
func TestTUNQueueAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	inNewNS(t, func(h *netlink.Handle) {
		td, err := createTUN(h, "pgalloc", 1500, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer td.close()
		q := td.queues[0]
		pkt := ipv4("10.97.0.1", "10.97.0.2", 64, 28)
		buf := make([]byte, tunOffset+len(pkt))
		bufs := [][]byte{buf}
		write := func() {
			copy(buf[tunOffset:], pkt)
			if _, err := q.Write(bufs, tunOffset); err != nil {
				t.Fatal(err)
			}
		}
		write() // makes the device
		if n := testing.AllocsPerRun(100, write); n != 0 {
			t.Errorf("Write: %v allocations per call, want 0", n)
		}
		// Read: a datagram to the TUN's subnet, waited for and read as
		// readTUN does (the datagram's send allocates nothing either).
		rbufs := newBufs(batchSize, outBufSize(1500))
		sizes := make([]int, batchSize)
		link, _ := h.LinkByName("pgalloc")
		ad, _ := netlink.ParseAddr("10.97.0.254/24")
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 97, 0, 1), Port: 9})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ready := newReadiness(q)
		read := func() {
			_, _ = c.Write([]byte("peregrine"))
			if err := ready.wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Read(rbufs, sizes, outHeadroom); err != nil {
				t.Fatal(err)
			}
		}
		read()
		if n := testing.AllocsPerRun(100, read); n != 0 {
			t.Errorf("wait and Read: %v allocations per call, want 0", n)
		}
	})
}
