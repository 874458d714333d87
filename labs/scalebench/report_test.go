package main

import (
	"strings"
	"testing"
	"time"
)

// TestPrintPerVRF: per-VRF costs are read against the empty daemon's
// row: (RSS - empty RSS) / N, settled and right after bring-up, and
// bring-up / N.
func TestPrintPerVRF(t *testing.T) {
	var b strings.Builder
	printPerVRF(&b, []result{
		{VRFs: 0, RSS: 20 << 20, RSSUp: 30 << 20, Heap: 4 << 20, BringUp: 50 * time.Millisecond},
		{VRFs: 2000, RSS: 20<<20 + 2000*60<<10, RSSUp: 30<<20 + 2000*90<<10, Heap: 4<<20 + 2000*40<<10,
			BringUp: 8 * time.Second, BringUpCPU: 4 * time.Second},
	})
	want := "per VRF at 2000: RSS above the empty daemon 60.0 KB settled (90.0 KB right after bring-up), heap 40.0 KB settled, bring-up 4.00 ms wall, 2.00 ms CPU\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}
