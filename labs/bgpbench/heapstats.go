package main

import (
	"context"
	"fmt"
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
	gogc  float64 // go_gc_gogc_percent
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
	var h goHeap
	for name, v := range map[string]*float64{
		"go_memstats_heap_alloc_bytes": &h.live,
		"go_memstats_heap_inuse_bytes": &h.inUse,
		"go_gc_gogc_percent":           &h.gogc,
	} {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) == 0 {
			return goHeap{}, fmt.Errorf("GET /metrics: no %s", name)
		}
		*v = f.GetMetric()[0].GetGauge().GetValue()
	}
	return h, nil
}
