package soak

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// series makes a sample every 10 s for d, with f giving the goroutines.
func series(d time.Duration, f func(i int, at time.Duration) float64) []Sample {
	var s []Sample
	for i, at := 0, time.Duration(0); at <= d; i, at = i+1, at+10*time.Second {
		s = append(s, Sample{At: at, Goroutines: f(i, at), StartTime: 1})
	}
	return s
}

func TestSecondHalfJudgesTrends(t *testing.T) {
	goroutines := Resources[0]
	for _, c := range []struct {
		name    string
		samples []Sample
		flat    bool
		perHour float64 // checked when not NaN-like (negative means skip)
	}{
		{"constant", series(30*time.Minute, func(int, time.Duration) float64 { return 40 }), true, 0},
		// One goroutine leaked per minute: 60/h, in a series without noise.
		{"leak", series(30*time.Minute, func(_ int, at time.Duration) float64 { return 40 + at.Minutes() }), false, 60},
		// 40 or 44 alternately (goroutines of a rekey come and go): no trend.
		{"noise", series(30*time.Minute, func(i int, _ time.Duration) float64 { return 40 + float64(4*(i%2)) }), true, -1},
		// A leak that the noise does not hide: 1 per minute for 15 minutes
		// of the half is 15, against noise of 2.
		{"leak in noise", series(30*time.Minute, func(i int, at time.Duration) float64 { return 40 + at.Minutes() + float64(4*(i%2)) }), false, -1},
		// Growth during the first half only (start-up) is not judged.
		{"start-up", series(30*time.Minute, func(_ int, at time.Duration) float64 { return min(40+at.Minutes(), 50) }), true, 0},
	} {
		tr, err := SecondHalf(c.samples, goroutines)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if tr.Flat != c.flat {
			t.Errorf("%s: flat = %v, want %v (%s)", c.name, tr.Flat, c.flat, tr.String(goroutines))
		}
		if c.perHour >= 0 && (tr.PerHour < c.perHour-1e-6 || tr.PerHour > c.perHour+1e-6) {
			t.Errorf("%s: %v per hour, want %v", c.name, tr.PerHour, c.perHour)
		}
	}
}

func TestSecondHalfNeedsSamples(t *testing.T) {
	if _, err := SecondHalf(series(20*time.Second, func(int, time.Duration) float64 { return 1 }), Resources[0]); err == nil {
		t.Error("a trend from 2 samples in the second half")
	}
	if _, err := SecondHalf(nil, Resources[0]); err == nil {
		t.Error("a trend from no samples")
	}
}

func TestRestarts(t *testing.T) {
	s := []Sample{{StartTime: 1}, {StartTime: 1}, {StartTime: 2}, {StartTime: 2}, {StartTime: 3}}
	if n := Restarts(s); n != 2 {
		t.Errorf("Restarts = %d, want 2", n)
	}
}

func TestParseSample(t *testing.T) {
	text := []byte(`# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 57
# TYPE go_memstats_heap_alloc_bytes gauge
go_memstats_heap_alloc_bytes 4.194304e+06
# TYPE process_open_fds gauge
process_open_fds 23
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 3.3554432e+07
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.76488e+09
# TYPE go_memstats_heap_idle_bytes gauge
go_memstats_heap_idle_bytes 2.097152e+06
# TYPE go_memstats_heap_released_bytes gauge
go_memstats_heap_released_bytes 1.048576e+06
# TYPE go_sched_threads_total_threads gauge
go_sched_threads_total_threads 7
`)
	// Every memory class, each a different number of KiB (its index+1).
	for i, c := range MemClasses {
		text = fmt.Appendf(text, "# TYPE go_memory_classes_%s_bytes gauge\ngo_memory_classes_%s_bytes %d\n", c, c, (i+1)<<10)
	}
	s, err := ParseSample(time.Minute, text)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{At: time.Minute, Goroutines: 57, FDs: 23, RSS: 32 << 20, Heap: 4 << 20, StartTime: 1.76488e9, HeapIdle: 2 << 20, HeapReleased: 1 << 20, GoThreads: 7}
	for i := range MemClasses {
		want.Classes[i] = float64((i + 1) << 10)
	}
	if s != want {
		t.Errorf("ParseSample = %+v, want %+v", s, want)
	}
	if _, err := ParseSample(0, text[:bytes.Index(text, []byte("# TYPE process_open_fds"))]); err == nil {
		t.Error("a sample without process_open_fds")
	}
	if _, err := ParseSample(0, text[:bytes.Index(text, []byte("# TYPE go_memory_classes_total_bytes"))]); err == nil {
		t.Error("a sample without go_memory_classes_total_bytes")
	}
	if got := s.Class("heap_released"); got != 4<<10 {
		t.Errorf("Class(heap_released) = %v, want %v", got, 4<<10)
	}
}
