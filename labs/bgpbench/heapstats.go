package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// goHeap is what peregrined's /metrics says of its Go heap: the split of
// its RSS into what the tables hold (live) and what the allocator keeps
// around them (free slots in spans still in use, which Go cannot return
// while one object in the span lives).
type goHeap struct {
	live  float64 // go_memstats_heap_alloc_bytes: reachable and not yet swept
	inUse float64 // go_memstats_heap_inuse_bytes: spans holding at least one object
	gogc  float64 // go_gc_gogc_percent; NaN if not exported
}

// readLiveGoHeap is readGoHeap after a collection, which gobgpd, unlike
// peregrined (memtrim), does not run when it goes quiet: its live figure
// is then what its tables hold, not also the garbage of the last cycle.
// The collection is pprof's (heap?gc=1), whose profile is discarded.
func readLiveGoHeap(ctx context.Context, addr string) (goHeap, error) {
	if err := httpGet(ctx, "http://"+addr+"/debug/pprof/heap?gc=1", io.Discard); err != nil {
		return goHeap{}, fmt.Errorf("forcing a GC: %w", err)
	}
	return readGoHeap(ctx, addr)
}

// httpGet copies url's body to w and fails unless the status is 200.
func httpGet(ctx context.Context, url string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// readGoHeap scrapes the metrics endpoint at addr (host:port).
func readGoHeap(ctx context.Context, addr string) (goHeap, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return goHeap{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return goHeap{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goHeap{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return goHeap{}, fmt.Errorf("GET /metrics: %w", err)
	}
	h := goHeap{gogc: math.NaN()}
	for name, v := range map[string]*float64{
		"go_memstats_heap_alloc_bytes": &h.live,
		"go_memstats_heap_inuse_bytes": &h.inUse,
		"go_gc_gogc_percent":           &h.gogc,
	} {
		f, ok := families[name]
		if !ok && name == "go_gc_gogc_percent" {
			continue // older client_golang, as gobgpd's, has none
		}
		if !ok || len(f.GetMetric()) == 0 {
			return goHeap{}, fmt.Errorf("GET /metrics: no %s", name)
		}
		*v = f.GetMetric()[0].GetGauge().GetValue()
	}
	return h, nil
}
