package soak

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PEs are the daemons sampled, in the CSV's column order.
var PEs = []string{"pe1", "pe2"}

// SampleLog writes each tick's samples to a CSV as they come, so that a
// run that dies leaves its samples behind: seconds, then per PE each
// Resource (bytes for rss and heap), then pe1's routes in VRF red (the
// flapper's), then per PE the heap's idle and released bytes (RSS minus
// what the heap holds idle but has not released is what the process
// uses).
type SampleLog struct {
	f *os.File
	w *csv.Writer
}

// CreateSampleLog creates path and writes the header.
func CreateSampleLog(path string) (*SampleLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l := &SampleLog{f: f, w: csv.NewWriter(f)}
	head := []string{"seconds"}
	for _, pe := range PEs {
		for _, r := range Resources {
			name := r.Name
			if r.Unit == "MiB" {
				name += "_bytes"
			}
			head = append(head, pe+"_"+name)
		}
	}
	head = append(head, "pe1_red_routes")
	for _, pe := range PEs {
		head = append(head, pe+"_heap_idle_bytes", pe+"_heap_released_bytes")
	}
	return l, l.write(head)
}

func (l *SampleLog) write(rec []string) error {
	_ = l.w.Write(rec)
	l.w.Flush()
	return l.w.Error()
}

// Row writes one tick: the samples of each PE (in PEs order; a PE
// missing from the map, whose scrape failed, leaves its cells empty).
func (l *SampleLog) Row(at time.Duration, byPE map[string]Sample, redRoutes int) error {
	rec := []string{strconv.FormatFloat(at.Seconds(), 'f', 1, 64)}
	for _, pe := range PEs {
		s, ok := byPE[pe]
		for _, r := range Resources {
			if ok {
				rec = append(rec, strconv.FormatFloat(r.Value(s), 'f', -1, 64))
			} else {
				rec = append(rec, "")
			}
		}
	}
	rec = append(rec, strconv.Itoa(redRoutes))
	for _, pe := range PEs {
		if s, ok := byPE[pe]; ok {
			rec = append(rec, strconv.FormatFloat(s.HeapIdle, 'f', -1, 64), strconv.FormatFloat(s.HeapReleased, 'f', -1, 64))
		} else {
			rec = append(rec, "", "")
		}
	}
	return l.write(rec)
}

// Close closes the file.
func (l *SampleLog) Close() error { return l.f.Close() }

// WriteLosses writes, for every second with a lost echo, how many each
// ping lost: "second,red,blue".
func WriteLosses(w io.Writer, names []string, lost map[string][]time.Duration) error {
	perSecond := map[int]map[string]int{}
	for name, ls := range lost {
		for _, l := range ls {
			s := int(l / time.Second)
			if perSecond[s] == nil {
				perSecond[s] = map[string]int{}
			}
			perSecond[s][name]++
		}
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{"second"}, names...))
	secs := make([]int, 0, len(perSecond))
	for s := range perSecond {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	for _, s := range secs {
		rec := []string{strconv.Itoa(s)}
		for _, n := range names {
			rec = append(rec, strconv.Itoa(perSecond[s][n]))
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// plotScript draws SampleLog's CSV: one panel per resource, both PEs.
const plotScript = `set terminal pngcairo size 1500,900
set output '%[2]s'
set datafile separator ','
set key top left
set xlabel 'minutes'
set multiplot layout 2,3 title '%[3]s'
set title 'goroutines'; plot '%[1]s' using ($1/60):2 with lines title 'pe1', '' using ($1/60):6 with lines title 'pe2'
set title 'open file descriptors'; plot '%[1]s' using ($1/60):3 with lines title 'pe1', '' using ($1/60):7 with lines title 'pe2'
set title 'RSS (MiB)'; plot '%[1]s' using ($1/60):($4/1048576) with lines title 'pe1', '' using ($1/60):($8/1048576) with lines title 'pe2'
set title 'Go heap allocated (MiB)'; plot '%[1]s' using ($1/60):($5/1048576) with lines title 'pe1', '' using ($1/60):($9/1048576) with lines title 'pe2'
set title 'pe1 VRF red routes (flapped by gobgpd)'; plot '%[1]s' using ($1/60):10 with lines notitle
set title 'heap idle, not released (MiB)'; plot '%[1]s' using ($1/60):(($11-$12)/1048576) with lines title 'pe1', '' using ($1/60):(($13-$14)/1048576) with lines title 'pe2'
unset multiplot
`

// Plot draws csvPath into png with gnuplot (Debian's gnuplot-nox), if it
// is installed.
func Plot(ctx context.Context, csvPath, png, title string) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot not installed (apt-get install gnuplot-nox)")
	}
	cmd := exec.CommandContext(ctx, gp)
	cmd.Stdin = strings.NewReader(fmt.Sprintf(plotScript, csvPath, png, strings.ReplaceAll(title, "'", "")))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}
