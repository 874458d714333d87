package userspace

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// TestIdleQueueReaderComesAndGoes (issue 23): a VRF's TUN queue has a
// reader goroutine only while it holds its device. The first packet
// starts one (through the Backend's epoll set), the reader returns once
// the queue has been idle for queueIdleAfter, and the next packet starts
// one again; an inbound Write to an idle queue starts one too, which
// lets the device go after queueIdleAfter.
func TestIdleQueueReaderComesAndGoes(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	defer func(d time.Duration) { queueIdleAfter = d }(queueIdleAfter)
	queueIdleAfter = 200 * time.Millisecond
	netns.InNewNamespace(t, func() {
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := &fib.State{VRFs: map[string]*fib.VRF{
			"red": {Name: "red", Table: 2100, Routes: map[netip.Prefix]fib.Route{}},
		}}
		g0 := runtime.NumGoroutine()
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		v := b.dp.vrfs["red"]
		q := b.tuns["red"].queues[0]
		waitUntil := func(what string, ok func() bool) {
			t.Helper()
			for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal(what)
				}
			}
		}
		readers := func() int { return runtime.NumGoroutine() - g0 }
		waitUntil("an idle VRF keeps reader goroutines", func() bool { return readers() <= 0 })

		c := dialIntoTUN(t, "red", "10.78.0.0/24", "10.78.0.1")
		dropped := func() uint64 { return v.cnt.outDrops[dropNoRoute].Load() }
		for round := range 2 {
			before := dropped()
			// One flow: the kernel puts it on one queue.
			_, _ = c.Write([]byte("peregrine"))
			waitUntil("a packet into an idle VRF's TUN was not read", func() bool { return dropped() > before })
			// Every queue: the kernel may put a packet of its own (an
			// IPv6 solicitation) on the other one, whose reader then
			// lets it go on its own clock; and a goroutine count alone
			// can be met while a reader runs, if another of the test's
			// goroutines ended meanwhile.
			waitUntil(fmt.Sprintf("round %d: a reader did not let its queue go once idle", round), func() bool {
				return readers() <= 0 && b.batches.inUse() == 0 &&
					!slices.ContainsFunc(b.tuns["red"].queues, (*tunQueue).attached)
			})
		}

		// Inbound: a Write makes the queue's device; a reader comes to
		// let it go again.
		pkt := ipv4("10.78.0.1", "10.78.0.254", 64, 28)
		buf := make([]byte, tunOffset+len(pkt))
		copy(buf[tunOffset:], pkt)
		if _, err := q.Write([][]byte{buf}, tunOffset); err != nil {
			t.Fatalf("writing to an idle queue: %v", err)
		}
		if !q.attached() {
			t.Fatal("a queue written to holds no device")
		}
		waitUntil("a queue written to once keeps its device", func() bool { return !q.attached() })
		waitUntil("the reader of a queue written to did not return", func() bool { return readers() <= 0 })
	})
}
