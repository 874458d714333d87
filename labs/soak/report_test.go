package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// report judges the run, writes summary.txt, losses.csv, events.log,
// the daemons' logs and soak.png into the output directory, and fails
// the test for every target missed.
func (r *run) report(gob *peers.GoBGP) {
	t := r.t
	vrfs := []string{"red", "blue"}
	lost := map[string][]time.Duration{}
	var nLost, sent int
	late := 0
	for _, vrf := range vrfs {
		res, err := r.pings[vrf].Wait()
		if err != nil {
			t.Errorf("ping %s: %v", vrf, err)
		}
		lost[vrf] = res.LostAt
		nLost += len(res.LostAt)
		sent += res.Sent
		late += res.Late
	}
	if f, err := os.Create(filepath.Join(r.out, "losses.csv")); err == nil {
		if err := WriteLosses(f, vrfs, lost); err != nil {
			t.Errorf("losses.csv: %v", err)
		}
		f.Close()
	}

	// Restarts: a start time that changed between samples, or a daemon
	// that is no longer running.
	var restarts []string
	for _, pe := range PEs {
		if n := Restarts(r.samples[pe]); n > 0 {
			restarts = append(restarts, fmt.Sprintf("%s restarted %d times (process_start_time_seconds)", pe, n))
		}
	}
	for _, p := range []*netns.Process{r.e.PE1.Proc, r.e.PE2.Proc, gob.Process()} {
		if exited, err := p.Exited(); exited {
			restarts = append(restarts, fmt.Sprintf("%s exited: %v", p.Name(), err))
		}
	}

	var trends []string
	var growing []string
	for _, pe := range PEs {
		for _, res := range Resources {
			tr, err := SecondHalf(r.samples[pe], res)
			if err != nil {
				growing = append(growing, pe+" "+err.Error())
				continue
			}
			trends = append(trends, fmt.Sprintf("  %s %-10s %s", pe, res.Name, tr.String(res)))
			// A fall is no leak: the target is no growth beyond the noise.
			if !tr.Flat && tr.Drift > 0 {
				growing = append(growing, pe+" "+res.Name)
			}
		}
	}

	// What RSS is made of, not judged: which of these grows as RSS
	// does explains it (Explains).
	var explains []string
	for _, pe := range PEs {
		for _, res := range Explains {
			if tr, err := SecondHalf(r.samples[pe], res); err == nil {
				explains = append(explains, fmt.Sprintf("  %s %-22s %s", pe, res.Name, tr.String(res)))
			}
		}
	}

	logs := map[string]string{}
	for name, pe := range map[string]*pelab.PE{"pe1": r.e.PE1, "pe2": r.e.PE2} {
		b, _ := os.ReadFile(pe.Proc.LogPath())
		logs[name] = string(b)
		_ = os.WriteFile(filepath.Join(r.out, name+"-peregrined.log"), b, 0o644)
	}
	rk1, rk2 := pelab.CountRekeys(logs["pe1"]), pelab.CountRekeys(logs["pe2"])

	pass := nLost == 0 && len(restarts) == 0 && len(growing) == 0 && len(r.refused) == 0 && len(r.flapKO) == 0 && r.scrapeKO == 0
	verdict := "PASS"
	if !pass {
		verdict = "FAIL"
	}
	head := fmt.Sprintf("soak %v: %s: lost pings %d of %d outside declared windows (none declared; red %d, blue %d; %d late), "+
		"daemon restarts %d, resources flat or falling %d of %d; reloads %d (%d refused), route flaps %d of %d routes (%d failed), "+
		"child rekeys pe1 %d pe2 %d, IKE SAs up pe1 %d pe2 %d, failed scrapes %d",
		r.d, verdict, nLost, sent, len(lost["red"]), len(lost["blue"]), late,
		len(restarts), len(PEs)*len(Resources)-len(growing), len(PEs)*len(Resources), r.reloads, len(r.refused), r.flaps, flapRoutes, len(r.flapKO),
		rk1.Child, rk2.Child, rk1.IKE, rk2.IKE, r.scrapeKO)
	var b strings.Builder
	fmt.Fprintln(&b, head)
	fmt.Fprintf(&b, "slopes over the second half (least squares, per hour; flat: drift within twice the noise about the line; only growth fails):\n%s\n", strings.Join(trends, "\n"))
	fmt.Fprintf(&b, "what RSS is made of, slopes over the second half (not judged; class_: the Go runtime's /memory/classes, smaps_/status_: /proc/PID):\n%s\n", strings.Join(explains, "\n"))
	for _, vrf := range vrfs {
		fmt.Fprintf(&b, "iperf3 %s: %s\n", vrf, iperfResult(r.iperfs[vrf]))
	}
	for _, s := range restarts {
		fmt.Fprintf(&b, "restart: %s\n", s)
	}
	for _, s := range r.refused {
		fmt.Fprintf(&b, "reload refused: %s\n", firstLine(s))
	}
	for _, s := range r.flapKO {
		fmt.Fprintf(&b, "flap failed: %s\n", s)
	}
	if nLost > 0 {
		fmt.Fprintf(&b, "lost echoes by second: losses.csv\n")
	}
	png := filepath.Join(r.out, "soak.png")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Plot(ctx, filepath.Join(r.out, "soak.csv"), png, head[:strings.Index(head, ", daemon")]); err != nil {
		fmt.Fprintf(&b, "plot: %v\n", err)
	} else {
		fmt.Fprintf(&b, "plot: %s\n", png)
	}
	fmt.Fprintf(&b, "samples: %s\n", filepath.Join(r.out, "soak.csv"))
	_ = os.WriteFile(filepath.Join(r.out, "events.log"), []byte(strings.Join(r.events, "\n")+"\n"), 0o644)
	if err := os.WriteFile(filepath.Join(r.out, "summary.txt"), []byte(b.String()), 0o644); err != nil {
		t.Errorf("summary.txt: %v", err)
	}
	t.Logf("summary (%s):\n%s", filepath.Join(r.out, "summary.txt"), b.String())

	if nLost > 0 {
		t.Errorf("%d echoes lost (target 0): red at %v, blue at %v", nLost, head3(lost["red"]), head3(lost["blue"]))
	}
	for _, s := range restarts {
		t.Errorf("restart (target 0): %s", s)
	}
	if len(growing) > 0 {
		t.Errorf("growing beyond the noise over the second half: %v", growing)
	}
	if len(r.refused) > 0 || len(r.flapKO) > 0 || r.scrapeKO > 0 {
		t.Errorf("%d reloads refused, %d flaps failed, %d scrapes failed (events.log)", len(r.refused), len(r.flapKO), r.scrapeKO)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// head3 is the first few of ds, for a failure message.
func head3(ds []time.Duration) []time.Duration { return ds[:min(len(ds), 10)] }
