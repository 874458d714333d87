package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestReadLiveGoHeap: gobgpd's live heap is read after a collection it is
// made to run (pprof's heap?gc=1), and a /metrics without
// go_gc_gogc_percent, as gobgpd's older Prometheus client serves, is
// still read.
func TestReadLiveGoHeap(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RequestURI())
		if r.URL.Path == "/metrics" {
			w.Write([]byte("# TYPE go_memstats_heap_alloc_bytes gauge\ngo_memstats_heap_alloc_bytes 1000\n" +
				"# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes 1500\n"))
		}
	}))
	defer srv.Close()
	h, err := readLiveGoHeap(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/debug/pprof/heap?gc=1", "/metrics"}; !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if h.live != 1000 || h.inUse != 1500 || !math.IsNaN(h.gogc) {
		t.Errorf("got %+v, want live 1000, in use 1500, GOGC NaN", h)
	}
}
