package userspace

import (
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestBatchPoolAllocs: borrowing and returning a batch allocates nothing
// once the pool has made it (the fast path's rule: nothing per packet,
// and so nothing per batch).
func TestBatchPoolAllocs(t *testing.T) {
	p := newBatchPool(outBufSize(1500))
	p.put(p.get())
	assertNoAllocs(t, "batchPool get and put", func() { p.put(p.get()) })
}

// TestBatchPoolBounded: the pool makes at most max batches; one more get
// waits until a batch comes back, and gets that one.
func TestBatchPoolBounded(t *testing.T) {
	p := newBatchPool(64)
	var held []*readBatch
	for range p.max {
		held = append(held, p.get())
	}
	if got := p.inUse(); got != int(p.max) {
		t.Fatalf("inUse %d, want %d", got, p.max)
	}
	got := make(chan *readBatch)
	go func() { got <- p.get() }()
	select {
	case <-got:
		t.Fatalf("get returned with all %d batches lent out", p.max)
	case <-time.After(100 * time.Millisecond):
	}
	p.put(held[0])
	select {
	case b := <-got:
		if b != held[0] {
			t.Error("get returned a new batch, want the one put back")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("get still waiting after a put")
	}
	if made := p.made.Load(); made != p.max {
		t.Errorf("made %d batches, want %d", made, p.max)
	}
}

// TestReadinessWait: wait returns at once on a queue with a packet and
// allocates nothing doing so, and returns an error once the queue is
// closed (what ends a reader).
func TestReadinessWait(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		td, err := createTUN(h, "pgwait", 1500, 1)
		if err != nil {
			t.Fatal(err)
		}
		r := newReadiness(td.queues[0])
		if r == nil {
			t.Fatal("no readiness for a TUN queue")
		}
		link, _ := h.LinkByName("pgwait")
		ad, _ := netlink.ParseAddr("10.98.0.254/16")
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 98, 0, 1), Port: 9})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("peregrine")); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wait: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("wait did not return with a packet queued")
		}
		assertNoAllocs(t, "readiness.wait", func() { _ = r.wait() })
		go func() { done <- r.wait() }() // the packet is still there: returns
		<-done
		// Drain it, then wait on an empty queue and close it.
		bufs := newBufs(1, outBufSize(1500))
		if _, err := td.queues[0].Read(bufs, make([]int, 1), outHeadroom); err != nil {
			t.Fatal(err)
		}
		go func() { done <- r.wait() }()
		select {
		case err := <-done:
			t.Fatalf("wait returned (%v) on an empty queue", err)
		case <-time.After(100 * time.Millisecond):
		}
		td.close()
		select {
		case err := <-done:
			if err == nil {
				t.Error("wait on a closed queue returned no error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not wake wait")
		}
	})
}
