package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/bgpconfig"
	"github.com/peregrine-net/peregrine/config"
)

// eventCounter counts the routes a VRF holds from the speaker's events:
// each benchmark prefix has one candidate, so a RouteAdd is a new route and
// a RouteDel removes one. Reading it costs the speaker nothing, unlike a
// /v1/vrfs poll.
type eventCounter struct{ n atomic.Int64 }

func (c *eventCounter) count(context.Context) (int, error) { return int(c.n.Load()), nil }

// consume stands in for fibfeed.Run (bgp/fibfeed, peregrined's bgp to
// FIB feed) with no FIB, including its debug log.
func (c *eventCounter) consume(events <-chan bgp.Event, log *slog.Logger) {
	for e := range events {
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug("fib event", "event", e.String())
		}
		if e.VRF != vrfName {
			continue
		}
		switch e.Kind {
		case bgp.RouteAdd:
			c.n.Add(1)
		case bgp.RouteDel:
			c.n.Add(-1)
		}
	}
}

// startInProcess runs P as a bgp.Speaker in this process, with the
// configuration peregrined would get and an event channel of the same
// size as peregrined's.
func (t *topology) startInProcess(ctx context.Context, dir string) (*profiler, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg, err := config.Parse([]byte(peregrinedConf(t.port, t.apiPort, filepath.Join(t.dir, "unused.sock"), "none")))
	if err != nil {
		return nil, fmt.Errorf("in-process config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	events := make(chan bgp.Event, 4096)
	ec := &eventCounter{}
	go ec.consume(events, log)
	sp, err := bgp.Start(ctx, bgpconfig.Translate(cfg), log, events)
	if err != nil {
		close(events)
		return nil, err
	}
	t.closer = append(t.closer, func() { sp.Stop(); close(events) })
	t.pe, t.pePID = ec, os.Getpid()
	if err := t.dialPeregrineRIB(ctx, nil); err != nil {
		return nil, err
	}
	return &profiler{dir: dir}, nil
}

// profiler records the CPU profile of the import and the heap after it.
type profiler struct {
	dir string
	cpu *os.File
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// begin returns the live heap and starts the CPU profile.
func (p *profiler) begin() uint64 {
	h := liveHeap()
	f, err := os.Create(filepath.Join(p.dir, "cpu.pprof"))
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		} else {
			p.cpu = f
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bgpbench: no CPU profile: %v\n", err)
	}
	return h
}

// end stops the CPU profile, writes the heap profile and returns the live
// heap.
func (p *profiler) end() (uint64, error) {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			return 0, err
		}
	}
	h := liveHeap()
	f, err := os.Create(filepath.Join(p.dir, "heap.pprof"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return 0, err
	}
	return h, f.Close()
}
