package userspace

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// idleVRFs is how many VRFs the idle tests bring up: enough that one OS
// thread or one batch of buffers per queue stands out from the runtime's
// own threads.
const idleVRFs = 40

// maxIdleVRFHeap bounds the heap an idle VRF may hold in the backend
// (issue 23 asks for 64 KB of RSS per VRF in the whole daemon): its
// queues, their readers' state, its fast-path tables, no packet buffers.
const maxIdleVRFHeap = 16 << 10

// maxIdleGoroutines bounds the goroutines idleVRFs idle VRFs may add:
// none per TUN queue (tunpoll.go), a few for the Backend's own work.
const maxIdleGoroutines = 4

// osThreads is this process's thread count (/proc/self/status Threads).
func osThreads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/proc/self/status: no Threads line")
	return 0
}

func liveHeapBytes() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestIdleVRFsHoldNoThreadsNorBuffers (issue 23): idleVRFs VRFs, each
// with a TUN of one queue per CPU, add no OS thread and no goroutine per
// queue (an idle queue waits in the Backend's epoll set) and hold no
// packet buffers; a packet into one VRF's TUN is read with a batch that
// goes back to the pool.
func TestIdleVRFsHoldNoThreadsNorBuffers(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	netns.InNewNamespace(t, func() {
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := &fib.State{VRFs: map[string]*fib.VRF{}}
		for i := range idleVRFs {
			name := fmt.Sprintf("idle%d", i)
			s.VRFs[name] = &fib.VRF{Name: name, Table: uint32(2000 + i), Routes: map[netip.Prefix]fib.Route{}}
		}
		before := osThreads(t)
		goroutines0 := runtime.NumGoroutine()
		heap0 := liveHeapBytes()
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // let every reader reach its wait
		queues := idleVRFs * b.queues
		perVRF := (liveHeapBytes() - heap0) / idleVRFs
		t.Logf("heap per idle VRF: %d KB", perVRF>>10)
		if perVRF > maxIdleVRFHeap {
			t.Errorf("an idle VRF holds %d KB of heap, want at most %d KB: its TUN queues' buffers and GRO tables are not let go", perVRF>>10, maxIdleVRFHeap>>10)
		}
		if grown := runtime.NumGoroutine() - goroutines0; grown > maxIdleGoroutines {
			t.Errorf("%d idle VRFs (%d TUN queues) added %d goroutines, want at most %d: an idle queue should wait in the Backend's epoll set, not in a reader of its own", idleVRFs, queues, grown, maxIdleGoroutines)
		}
		grown := osThreads(t) - before
		if limit := 2*runtime.GOMAXPROCS(0) + 4; grown > limit {
			t.Errorf("%d VRFs (%d TUN queues) added %d OS threads, want at most %d", idleVRFs, queues, grown, limit)
		}
		if n := b.batches.inUse(); n != 0 {
			t.Errorf("%d idle queues hold %d read batches, want 0", queues, n)
		}

		// A packet for the VRF's TUN: no route in the VRF, so the reader
		// drops and counts it, and gives its batch back.
		c := dialIntoTUN(t, "idle0", "10.77.0.0/24", "10.77.0.1")
		v := b.dp.vrfs["idle0"]
		deadline := time.Now().Add(5 * time.Second)
		for v.cnt.outDrops[dropNoRoute].Load() == 0 && time.Now().Before(deadline) {
			_, _ = c.Write([]byte("peregrine"))
			time.Sleep(20 * time.Millisecond)
		}
		if v.cnt.outDrops[dropNoRoute].Load() == 0 {
			t.Fatal("no packet read from the idle VRF's TUN")
		}
		for b.batches.inUse() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := b.batches.inUse(); n != 0 {
			t.Errorf("after the packet, %d batches still lent out, want 0", n)
		}
	})
}
