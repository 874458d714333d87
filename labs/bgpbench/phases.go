package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// measure runs the import phase, then the withdrawal phase.
func measure(ctx context.Context, t *topology, o options, batches [][]*api.Path, prof *profiler, logf func(string, ...any)) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r := &result{n: o.n, batch: o.batch, port: o.port, inProcess: prof != nil, stream: o.stream}
	aPID := t.a.proc.Pid()
	var err error
	if !o.stream {
		logf("preloading A (held back by its export policy)")
		if err := r.preload(ctx, t, batches); err != nil {
			return nil, err
		}
	}
	if r.pBefore, err = readUsage(t.pePID); err != nil {
		return nil, err
	}
	if r.bBefore, err = readUsage(t.b.proc.Pid()); err != nil {
		return nil, err
	}
	if r.bHeapBefore, err = readLiveGoHeap(ctx, t.b.stats); err != nil {
		return nil, fmt.Errorf("gobgpd B heap: %w", err)
	}
	if r.aBefore, err = readUsage(aPID); err != nil {
		return nil, err
	}
	for _, f := range t.field {
		fr := fieldResult{name: f.name}
		if fr.before, err = readUsage(f.proc.Pid()); err != nil {
			return nil, err
		}
		r.field = append(r.field, fr)
	}
	if prof != nil {
		r.heapBefore = prof.begin()
	} else if r.pHeapBefore, err = readGoHeap(ctx, hostPort(addrP, metricsPort(t.apiPort))); err != nil {
		return nil, err
	}
	h0, err := t.hostSnap()
	if err != nil {
		return nil, err
	}

	logf("timing the import of %d routes", o.n)
	trigger := func(ctx context.Context) error { return releaseRoutes(ctx, t.a.api) }
	if o.stream {
		trigger = func(ctx context.Context) error { return load(ctx, t.a.api, batches) }
	}
	ws, took, err := timed(ctx, t, 0, o.n, o.poll, trigger)
	if err != nil {
		return nil, err
	}
	if o.stream {
		r.load = took
	}
	r.p, r.b = ws[0], ws[1]
	for i := range r.field {
		r.field[i].w = ws[2+i]
	}
	if r.aAfter, err = readUsage(aPID); err != nil {
		return nil, err
	}
	h1, err := t.hostSnap()
	if err != nil {
		return nil, err
	}
	r.others = otherCores(h0, h1)
	if prof != nil {
		if r.heapAfter, err = prof.end(); err != nil {
			return nil, err
		}
		runtime.KeepAlive(batches) // live in both heap readings
	}

	logf("imported; settling %v", o.settle)
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.pSettled, err = readUsage(t.pePID); err != nil {
		return nil, err
	}
	if r.bSettled, err = readUsage(t.b.proc.Pid()); err != nil {
		return nil, err
	}
	for i, f := range t.field {
		if r.field[i].settled, err = readUsage(f.proc.Pid()); err != nil {
			return nil, err
		}
	}
	if prof == nil {
		if r.pHeap, err = readGoHeap(ctx, hostPort(addrP, metricsPort(t.apiPort))); err != nil {
			return nil, err
		}
	}
	// After every settled RSS reading: the collection it forces on B
	// changes no RSS already read.
	if r.bHeap, err = readLiveGoHeap(ctx, t.b.stats); err != nil {
		return nil, fmt.Errorf("gobgpd B heap: %w", err)
	}
	if o.withdraw {
		logf("timing the withdrawal")
		if err := r.withdraw(ctx, t, o.poll); err != nil {
			return nil, fmt.Errorf("withdrawal: %w", err)
		}
	}
	return r, nil
}

// preload loads every path into A while its export policy holds them back,
// and checks that A has them all.
func (r *result) preload(ctx context.Context, t *topology, batches [][]*api.Path) error {
	u0, err := readUsage(t.a.proc.Pid())
	if err != nil {
		return err
	}
	start := time.Now()
	if err := load(ctx, t.a.api, batches); err != nil {
		return fmt.Errorf("loading A: %w", err)
	}
	n, err := gobgpCounter{t.a.api}.count(ctx)
	if err != nil {
		return fmt.Errorf("gobgpd A's table: %w", err)
	}
	if n != r.n {
		return fmt.Errorf("gobgpd A holds %d routes after loading %d", n, r.n)
	}
	r.load = time.Since(start)
	u1, err := readUsage(t.a.proc.Pid())
	r.loadCPU = u1.CPU - u0.CPU
	return err
}

// withdraw deletes every path from A and times P and B back to zero.
func (r *result) withdraw(ctx context.Context, t *topology, pp pollPolicy) error {
	h0, err := t.hostSnap()
	if err != nil {
		return err
	}
	ws, _, err := timed(ctx, t, r.n, 0, pp, func(ctx context.Context) error {
		_, err := t.a.api.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: vpnv4})
		return err
	})
	if err != nil {
		return err
	}
	r.pw, r.bw = ws[0], ws[1]
	for i := range r.field {
		r.field[i].ww = ws[2+i]
	}
	if r.aWithdrawn, err = readUsage(t.a.proc.Pid()); err != nil {
		return err
	}
	h1, err := t.hostSnap()
	if err != nil {
		return err
	}
	r.othersWithdraw = otherCores(h0, h1)
	r.withdrawn = true
	return nil
}

// timed starts the clock, calls trigger (which makes A send) and at the
// same time waits for every receiver (P, B, then the field's) to go from
// count from to target. It returns how long trigger took.
func timed(ctx context.Context, t *topology, from, target int, pp pollPolicy, trigger func(context.Context) error) (ws []waited, took time.Duration, err error) {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		err := trigger(tctx)
		took = time.Since(start)
		done <- err
	}()
	ws, err = race(ctx, t.receivers(), from, target, start, pp)
	if err != nil {
		cancel()
		<-done
		return ws, took, err
	}
	if err := <-done; err != nil {
		return ws, took, fmt.Errorf("gobgpd A: %w", err)
	}
	return ws, took, nil
}

// load streams the batches into A's global RIB.
func load(ctx context.Context, c api.GobgpApiClient, batches [][]*api.Path) error {
	stream, err := c.AddPathStream(ctx)
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: b}); err != nil {
			if _, rerr := stream.CloseAndRecv(); rerr != nil {
				err = rerr // the server's reason, if it gave one
			}
			return err
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}
