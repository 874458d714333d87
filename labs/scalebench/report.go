package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

var columns = []string{"vrfs", "bringup_s", "bringup_cpu_s", "reload_s", "reload_cpu_s",
	"rss_up_mb", "heap_up_mb", "settle_s", "settled", "rss_mb", "heap_mb", "spans_mb", "held_free_mb", "stacks_mb", "threads", "goroutines", "ping_first", "ping_last", "stop_s"}

func (r result) fields() []string {
	s := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	mb := func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }
	return []string{strconv.Itoa(r.VRFs), s(r.BringUp), s(r.BringUpCPU), s(r.Reload), s(r.ReloadCPU),
		mb(r.RSSUp), mb(r.HeapUp), s(r.Settle), strconv.FormatBool(r.Settled), mb(r.RSS), mb(r.Heap), mb(r.Mem.HeapUsed), mb(r.Mem.HeapFree), mb(r.Mem.Stack), strconv.Itoa(r.Threads), strconv.Itoa(r.Goroutines), r.PingFirst, r.PingLast, s(r.Stop)}
}

// printFields writes one line of a printed table: each field left-aligned
// in width columns.
func printFields(w io.Writer, fields []string, width int) {
	for _, f := range fields {
		fmt.Fprintf(w, "%-*s", width, f)
	}
	fmt.Fprintln(w)
}

// writeCSV writes the per-VRF-count table: columns, then a row a result.
func writeCSV(path string, rs []result) error {
	rows := [][]string{columns}
	for _, r := range rs {
		rows = append(rows, r.fields())
	}
	return writeCSVRows(path, rows)
}

// writeCSVRows writes rows, the header first, as a CSV file.
func writeCSVRows(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.WriteAll(rows)
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plotScript draws each cost against the VRF count, one panel each.
const plotScript = `set terminal pngcairo size 1400,900
set output '%[2]s'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 2,3 title 'peregrined (userspace backend): cost vs VRF count'
set xlabel 'VRFs'
set yrange [0:*]
set title 'bring-up (s)'; plot '%[1]s' using 1:2 with linespoints title 'wall', '' using 1:3 with linespoints title 'cpu'
set title 'reload adding one VRF (s)'; plot '%[1]s' using 1:4 with linespoints title 'wall', '' using 1:5 with linespoints title 'cpu'
set title 'RSS (MB)'; plot '%[1]s' using 1:6 with linespoints title 'right after bring-up', '' using 1:10 with linespoints title 'settled'
set title 'Go heap (MB)'; plot '%[1]s' using 1:7 with linespoints title 'right after bring-up', '' using 1:11 with linespoints title 'settled'
set title 'OS threads'; plot '%[1]s' using 1:15 with linespoints notitle
set title 'goroutines'; plot '%[1]s' using 1:16 with linespoints notitle
unset multiplot
`

// plot draws plotScript from the CSV into png.
func plot(ctx context.Context, csvPath, png string) error {
	return gnuplot(ctx, fmt.Sprintf(plotScript, csvPath, png))
}

// gnuplot runs gnuplot (Debian's gnuplot-nox) on script, if it is
// installed.
func gnuplot(ctx context.Context, script string) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot not installed (apt-get install gnuplot-nox)")
	}
	cmd := exec.CommandContext(ctx, gp)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}

// printPerVRF says, for each count N > 0, what one VRF costs: RSS above
// the empty daemon's (the N=0 row, if measured) divided by N, and
// bring-up wall and CPU time divided by N, the figures issue 23 bounds
// (64 KB of RSS, 5 ms of bring-up per VRF).
func printPerVRF(w io.Writer, rs []result) {
	var empty *result
	for i := range rs {
		if rs[i].VRFs == 0 {
			empty = &rs[i]
		}
	}
	for _, r := range rs {
		if r.VRFs == 0 {
			continue
		}
		n := float64(r.VRFs)
		rss, rssUp, heap := "-", "-", "-"
		if empty != nil {
			kb := func(b int64) string { return strconv.FormatFloat(float64(b)/n/1024, 'f', 1, 64) + " KB" }
			rss, rssUp, heap = kb(r.RSS-empty.RSS), kb(r.RSSUp-empty.RSSUp), kb(r.Heap-empty.Heap)
		}
		fmt.Fprintf(w, "per VRF at %d: RSS above the empty daemon %s settled (%s right after bring-up), heap %s settled, bring-up %.2f ms wall, %.2f ms CPU\n",
			r.VRFs, rss, rssUp, heap, r.BringUp.Seconds()*1000/n, r.BringUpCPU.Seconds()*1000/n)
	}
}
