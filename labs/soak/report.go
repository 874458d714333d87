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
// uses), then per PE each of Explains (SampleHeader names them all).
type SampleLog struct {
	f *os.File
	w *csv.Writer
}

// Explains are the quantities sampled to explain RSS, not judged: the Go
// runtime's memory classes and threads, the kernel's resident pages by
// kind and threads, and two differences of them. go_resident is what the
// runtime has mapped and not released (total - heap_released): RSS the
// runtime accounts for, if every page of it has been touched.
// anon_not_go is Anonymous minus go_resident: positive, anonymous memory
// that is not the runtime's (the fast path's packet buffers, mapped
// outside the Go heap, or the runtime's counted twice); negative,
// pages the runtime holds that were never touched or that the kernel
// reclaimed. A growth of RSS is explained by the one of these that
// grows as much.
var Explains = func() []Resource {
	var rs []Resource
	for i, c := range MemClasses {
		rs = append(rs, Resource{"class_" + c, 1 << 20, "MiB", func(s Sample) float64 { return s.Classes[i] }})
	}
	return append(rs,
		Resource{"go_resident", 1 << 20, "MiB", goResident},
		Resource{"smaps_rss", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.Rss }},
		Resource{"smaps_anonymous", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.Anonymous }},
		Resource{"anon_not_go", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.Anonymous - goResident(s) }},
		Resource{"smaps_anon_huge", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.AnonHuge }},
		Resource{"smaps_pss_file", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.PssFile }},
		Resource{"smaps_pss_shmem", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.PssShmem }},
		Resource{"status_rss_file", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.RssFile }},
		Resource{"status_rss_shmem", 1 << 20, "MiB", func(s Sample) float64 { return s.Proc.RssShmem }},
		Resource{"go_threads", 1, "", func(s Sample) float64 { return s.GoThreads }},
		Resource{"os_threads", 1, "", func(s Sample) float64 { return s.Proc.Threads }},
	)
}()

func goResident(s Sample) float64 { return s.Class("total") - s.Class("heap_released") }

// column is r's CSV column for pe.
func column(pe string, r Resource) string {
	name := pe + "_" + r.Name
	if r.Unit == "MiB" {
		name += "_bytes"
	}
	return name
}

// SampleHeader is SampleLog's header row.
func SampleHeader() []string {
	head := []string{"seconds"}
	for _, pe := range PEs {
		for _, r := range Resources {
			head = append(head, column(pe, r))
		}
	}
	head = append(head, "pe1_red_routes")
	for _, pe := range PEs {
		head = append(head, pe+"_heap_idle_bytes", pe+"_heap_released_bytes")
	}
	for _, pe := range PEs {
		for _, r := range Explains {
			head = append(head, column(pe, r))
		}
	}
	return head
}

// CreateSampleLog creates path and writes the header.
func CreateSampleLog(path string) (*SampleLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l := &SampleLog{f: f, w: csv.NewWriter(f)}
	return l, l.write(SampleHeader())
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
	cells := func(rs []Resource) {
		for _, pe := range PEs {
			s, ok := byPE[pe]
			for _, r := range rs {
				if ok {
					rec = append(rec, strconv.FormatFloat(r.Value(s), 'f', -1, 64))
				} else {
					rec = append(rec, "")
				}
			}
		}
	}
	cells(Resources)
	rec = append(rec, strconv.Itoa(redRoutes))
	cells([]Resource{
		{Value: func(s Sample) float64 { return s.HeapIdle }},
		{Value: func(s Sample) float64 { return s.HeapReleased }},
	})
	cells(Explains)
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

// plotScript draws SampleLog's CSV: one panel per resource, both PEs,
// then per PE what its RSS is made of, then the threads. %[4]s and on
// are columns (plotColumns).
const plotScript = `set terminal pngcairo size 1800,1500 noenhanced
set output '%[2]s'
set datafile separator ','
set key top left
set xlabel 'minutes'
set multiplot layout 3,3 title '%[3]s'
set title 'goroutines'; plot '%[1]s' using ($1/60):2 with lines title 'pe1', '' using ($1/60):6 with lines title 'pe2'
set title 'open file descriptors'; plot '%[1]s' using ($1/60):3 with lines title 'pe1', '' using ($1/60):7 with lines title 'pe2'
set title 'RSS (MiB)'; plot '%[1]s' using ($1/60):($4/1048576) with lines title 'pe1', '' using ($1/60):($8/1048576) with lines title 'pe2'
set title 'Go heap allocated (MiB)'; plot '%[1]s' using ($1/60):($5/1048576) with lines title 'pe1', '' using ($1/60):($9/1048576) with lines title 'pe2'
set title 'pe1 VRF red routes (flapped by gobgpd)'; plot '%[1]s' using ($1/60):10 with lines notitle
set title 'heap idle, not released (MiB)'; plot '%[1]s' using ($1/60):(($11-$12)/1048576) with lines title 'pe1', '' using ($1/60):(($13-$14)/1048576) with lines title 'pe2'
set key top left font ',8'
%[4]s
set title 'threads'; plot '%[1]s' using ($1/60):%[5]d with lines title 'pe1 OS', '' using ($1/60):%[6]d with lines title 'pe1 Go runtime', '' using ($1/60):%[7]d with lines title 'pe2 OS', '' using ($1/60):%[8]d with lines title 'pe2 Go runtime'
unset multiplot
`

// memoryPanel is one PE's panel of what its RSS is made of.
const memoryPanel = "set title '%[2]s: what RSS is made of (MiB)'; plot '%[1]s' using ($1/60):($%[3]d/1048576) with lines lw 2 title 'RSS (smaps)'"

// memoryLines are the Explains drawn in a memoryPanel.
var memoryLines = []string{"smaps_anonymous", "go_resident", "class_heap_objects", "class_heap_unused", "class_heap_free",
	"class_heap_stacks", "class_metadata_mspan_inuse", "class_metadata_other", "status_rss_file", "smaps_anon_huge"}

// plotColumns are plotScript's arguments from %[4]s on: the memory
// panels and the threads' columns, 1-based as gnuplot counts them.
func plotColumns(csvPath string) []any {
	head := SampleHeader()
	col := func(name string) int {
		for i, h := range head {
			if h == name {
				return i + 1
			}
		}
		panic("soak: no CSV column " + name)
	}
	byName := map[string]Resource{}
	for _, r := range Explains {
		byName[r.Name] = r
	}
	var panels []string
	for _, pe := range PEs {
		p := fmt.Sprintf(memoryPanel, csvPath, pe, col(column(pe, byName["smaps_rss"])))
		for _, name := range memoryLines {
			p += fmt.Sprintf(", '' using ($1/60):($%d/1048576) with lines title '%s'", col(column(pe, byName[name])), strings.TrimPrefix(name, "class_"))
		}
		panels = append(panels, p)
	}
	return []any{strings.Join(panels, "\n"),
		col(column("pe1", byName["os_threads"])), col(column("pe1", byName["go_threads"])),
		col(column("pe2", byName["os_threads"])), col(column("pe2", byName["go_threads"]))}
}

// Plot draws csvPath into png with gnuplot (Debian's gnuplot-nox), if it
// is installed.
func Plot(ctx context.Context, csvPath, png, title string) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot not installed (apt-get install gnuplot-nox)")
	}
	cmd := exec.CommandContext(ctx, gp)
	args := append([]any{csvPath, png, strings.ReplaceAll(title, "'", "")}, plotColumns(csvPath)...)
	cmd.Stdin = strings.NewReader(fmt.Sprintf(plotScript, args...))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}
