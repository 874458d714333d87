package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }
func mib(b int64) string          { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

// perSecond is n over d, "-" without a window.
func perSecond(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/d.Seconds(), 'f', 1, 64)
}

// summary is the run's figures as (column, value) pairs: one CSV row and
// the printed summary.
func (r meshResult) summary() [][2]string {
	rssMed, rssMax := medianOf(r.PERows, func(p peRow) int64 { return p.RSS })
	heapMed, heapMax := medianOf(r.PERows, func(p peRow) int64 { return p.Heap })
	var peCPU, rrCPU time.Duration
	for _, p := range r.PERows {
		peCPU += p.CPU
	}
	for _, rr := range r.RRs {
		rrCPU += rr.CPU
	}
	s := [][2]string{
		{"pes", strconv.Itoa(r.PEs)}, {"vrfs_per_pe", strconv.Itoa(r.VRFs)},
		{"lab_build_s", secs(r.LabBuild)}, {"spawn_s", secs(r.Spawn)}, {"converge_s", secs(r.Converge)},
		{"converge_after_spawn_s", secs(r.Converge - r.Spawn)},
	}
	for i, rr := range r.RRs {
		s = append(s,
			[2]string{rr.Name + "_updates_in", strconv.FormatInt(rr.UpdatesRecv, 10)},
			[2]string{rr.Name + "_updates_out", strconv.FormatInt(rr.UpdatesSent, 10)},
			[2]string{rr.Name + "_updates_in_per_s", perSecond(rr.UpdatesRecv, r.Converge)},
			[2]string{rr.Name + "_updates_out_per_s", perSecond(rr.UpdatesSent, r.Converge)},
			[2]string{rr.Name + "_updates_peak_per_s", strconv.FormatFloat(peakUpdates(r.Timeline, i), 'f', 1, 64)})
	}
	return append(s,
		[2]string{"rss_median_mb", mib(rssMed)}, [2]string{"rss_max_mb", mib(rssMax)},
		[2]string{"heap_median_mb", mib(heapMed)}, [2]string{"heap_max_mb", mib(heapMax)},
		[2]string{"cpu_pes_s", secs(peCPU)}, [2]string{"cpu_rrs_s", secs(rrCPU)},
		[2]string{"pings_ok", fmt.Sprintf("%d/%d", r.PingsOK, len(r.Pings))},
		[2]string{"isolation", map[bool]string{true: "ok", false: "LEAK"}[r.IsolationOK]},
		[2]string{"core_esp_packets", strconv.Itoa(r.Wire.ESP)},
		[2]string{"core_plain_packets", strconv.Itoa(r.Wire.Plain)},
		[2]string{"verdict", map[bool]string{true: "ok", false: "FAIL"}[r.ok()]})
}

var peColumns = []string{"pe", "converged_s", "cpu_s", "rss_mb", "heap_mb", "threads", "goroutines", "tun_routes"}

func (p peRow) fields() []string {
	return []string{strconv.Itoa(p.PE), secs(p.Converged), secs(p.CPU), mib(p.RSS), mib(p.Heap),
		strconv.Itoa(p.Threads), strconv.Itoa(p.Goroutines), strconv.Itoa(p.TUNRoutes)}
}

// printMesh writes the per-PE table, the pings and the summary.
func printMesh(w io.Writer, r meshResult) {
	printFields(w, peColumns, 12)
	for _, p := range r.PERows {
		printFields(w, p.fields(), 12)
	}
	fmt.Fprintf(w, "core during the pings: %v packets (tcpdump, every packet at two bridge ports)\n", r.Wire)
	for _, p := range r.Pings {
		verdict := "ok"
		if !p.ok() {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "ping %-4s pe%-3d -> pe%-3d %d/%d replies, %d echo requests at the destination CE, %d at its twin in the other VRF: %s\n",
			p.VRF, p.From, p.To, p.Received, p.Sent, p.DstEchos, p.Leaked, verdict)
	}
	for _, kv := range r.summary() {
		fmt.Fprintf(w, "%-26s %s\n", kv[0], kv[1])
	}
}

// ok is the run's verdict: every ping answered at the right CE and none
// at its twin, and on the core ESP and nothing plain: at least a request
// and a reply per echo answered, each seen at two bridge ports.
func (r meshResult) ok() bool {
	replies := 0
	for _, p := range r.Pings {
		replies += p.Received
	}
	return len(r.Pings) > 0 && r.PingsOK == len(r.Pings) && r.IsolationOK && r.Wire.Plain == 0 && r.Wire.ESP >= 4*replies
}

var timelineColumns = []string{"t_s", "pes_converged", "vrfs_complete", "tun_routes", "rr1_updates", "rr2_updates"}

// timelineRows are the convergence ticks, each RR's UPDATEs (received plus
// sent) counted from the first tick.
func timelineRows(ts []tick) [][]string {
	rows := [][]string{timelineColumns}
	for _, t := range ts {
		row := []string{secs(t.T), strconv.Itoa(t.Converged), strconv.Itoa(t.FullVRFs), strconv.Itoa(t.TUNRoutes)}
		for rr := range 2 {
			n := int64(0)
			if rr < len(t.RR) && rr < len(ts[0].RR) {
				n = t.RR[rr].updatesRecv + t.RR[rr].updatesSent - ts[0].RR[rr].updatesRecv - ts[0].RR[rr].updatesSent
			}
			row = append(row, strconv.FormatInt(n, 10))
		}
		rows = append(rows, row)
	}
	return rows
}

// writeMeshCSVs writes OUT/pes-summary.csv (one row), OUT/pes.csv (one
// row per PE) and OUT/pes-timeline.csv (one row per convergence tick).
func writeMeshCSVs(out string, r meshResult) (summaryPath, perPEPath string, err error) {
	if err := writeCSVRows(filepath.Join(out, "pes-timeline.csv"), timelineRows(r.Timeline)); err != nil {
		return "", "", err
	}
	s := r.summary()
	head, row := make([]string, len(s)), make([]string, len(s))
	for i, kv := range s {
		head[i], row[i] = kv[0], kv[1]
	}
	summaryPath = filepath.Join(out, "pes-summary.csv")
	if err := writeCSVRows(summaryPath, [][]string{head, row}); err != nil {
		return "", "", err
	}
	rows := [][]string{peColumns}
	for _, p := range r.PERows {
		rows = append(rows, p.fields())
	}
	perPEPath = filepath.Join(out, "pes.csv")
	return summaryPath, perPEPath, writeCSVRows(perPEPath, rows)
}

// meshPlotScript draws each PE's convergence time, CPU and RSS.
const meshPlotScript = `set terminal pngcairo size 1400,900
set output '%[2]s'
set datafile separator ','
set key autotitle columnhead
set style fill solid 0.6
set boxwidth 0.7
set yrange [0:*]
set multiplot layout 2,2 title '%[3]d peregrined PEs x %[4]d VRFs, two FRR route reflectors'
set xlabel 'PE'
set title 'converged after (s, from the first spawn)'; plot '%[1]s' using 1:2 with boxes notitle
set title 'CPU to convergence (s)'; plot '%[1]s' using 1:3 with boxes notitle
set title 'RSS (MB)'; plot '%[1]s' using 1:4 with boxes notitle
set xlabel 's since the first spawn'
set key top left
set y2tics
set y2range [0:*]
set title 'convergence'; plot '%[5]s' using 1:4 with lines title 'TUN routes (all PEs)', '' using 1:5 axes x1y2 with lines title 'RR1 UPDATEs in+out (right)', '' using 1:6 axes x1y2 with lines title 'RR2 UPDATEs in+out (right)'
unset multiplot
`

// plotMesh draws meshPlotScript from pes.csv and pes-timeline.csv into
// png.
func plotMesh(ctx context.Context, r meshResult, csvPath, png string) error {
	timeline := filepath.Join(filepath.Dir(csvPath), "pes-timeline.csv")
	return gnuplot(ctx, fmt.Sprintf(meshPlotScript, csvPath, png, r.PEs, r.VRFs, timeline))
}

// mainPEs is main for -pes: run, print, write, plot; the exit status.
func mainPEs(ctx context.Context, run func() (meshResult, error), out string) int {
	r, err := run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "scalebench: %d PEs x %d VRFs: %v\n", r.PEs, r.VRFs, err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	printMesh(os.Stdout, r)
	sum, perPE, err := writeMeshCSVs(out, r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		return 1
	}
	fmt.Println("tables:", sum, perPE, filepath.Join(out, "pes-timeline.csv"))
	png := filepath.Join(out, "pes.png")
	if err := plotMesh(ctx, r, perPE, png); err != nil {
		fmt.Println("plot: none:", err)
	} else {
		fmt.Println("plot:", png)
	}
	if !r.ok() {
		return 1
	}
	return 0
}

// mainPEsFlags checks -pes, -vrfs-per-pe and -peregrined and runs the
// many-PE lab.
func mainPEsFlags(pes, vrfs int, bin, out string, timeout time.Duration) int {
	if pes < 2 || pes > maxPEs {
		fmt.Fprintf(os.Stderr, "scalebench: -pes: %d: want 2 to %d\n", pes, maxPEs)
		return 2
	}
	if vrfs < 1 || vrfs > maxVRFsPerPE {
		fmt.Fprintf(os.Stderr, "scalebench: -vrfs-per-pe: %d: want 1 to %d\n", vrfs, maxVRFsPerPE)
		return 2
	}
	binPath, err := filepath.Abs(bin)
	if err == nil {
		_, err = os.Stat(binPath)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "scalebench: -peregrined: %v\n", err)
		return 2
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fmt.Printf("many-PE lab: %d PEs x %d VRFs, two FRR route reflectors, manual-key ESP full mesh\n", pes, vrfs)
	return mainPEs(ctx, func() (meshResult, error) { return runPEs(ctx, log, binPath, pes, vrfs, timeout) }, out)
}
