package soak

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSampleLogAndPlot writes a few ticks and draws them: every row is as
// long as the header, and gnuplot (where installed) takes the script
// with the memory panels' columns.
func TestSampleLogAndPlot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "soak.csv")
	l, err := CreateSampleLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s := Sample{Goroutines: 40, RSS: float64(30+i) * (1 << 20), GoThreads: 7, Proc: ProcMem{Rss: float64(30+i) * (1 << 20), Anonymous: 20 << 20, Threads: 8}}
		s.Classes[classIndex("total")] = 40 << 20
		s.Classes[classIndex("heap_released")] = 10 << 20
		byPE := map[string]Sample{"pe1": s}
		if i != 2 {
			byPE["pe2"] = s // a failed scrape of pe2 leaves its cells empty
		}
		if err := l.Row(time.Duration(i)*10*time.Second, byPE, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll() // fails on a row of another length
	if err != nil {
		t.Fatal(err)
	}
	head := rows[0]
	if len(rows) != 6 || len(head) != len(SampleHeader()) {
		t.Fatalf("%d rows of %d columns, want 6 of %d", len(rows), len(head), len(SampleHeader()))
	}
	for i, h := range head {
		if h == "pe1_anon_not_go_bytes" && rows[1][i] != "-10485760" {
			t.Errorf("pe1_anon_not_go_bytes = %s, want 20 MiB - (40 - 10) MiB", rows[1][i])
		}
	}
	if _, err := exec.LookPath("gnuplot"); err != nil {
		t.Skip("gnuplot not installed (apt-get install gnuplot-nox)")
	}
	png := filepath.Join(dir, "soak.png")
	if err := Plot(context.Background(), path, png, "test"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("soak.png: %v", err)
	}
}
