package procstat

import (
	"bytes"
	"strconv"
)

// ParseMetrics returns the samples without labels or timestamp of a
// Prometheus text exposition (a Go program's /metrics), by name:
// go_goroutines, go_memstats_heap_alloc_bytes and the like. Comments,
// labelled samples and lines whose value is not a number are left out.
func ParseMetrics(text []byte) map[string]float64 {
	m := map[string]float64{}
	for _, l := range bytes.Split(text, []byte("\n")) {
		f := bytes.Fields(l)
		if len(f) != 2 || f[0][0] == '#' || bytes.IndexByte(f[0], '{') >= 0 {
			continue
		}
		v, err := strconv.ParseFloat(string(f[1]), 64)
		if err != nil {
			continue
		}
		m[string(f[0])] = v
	}
	return m
}
