package bgp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/mpls/labelstore"
)

// TestReloadSavesTheLabelsOfItsNewVRFsOnce (issue 23): a reload that
// adds 19 VRFs, each with a route to advertise under a new label,
// writes the label file once, not once per VRF: each write is as long as
// the file and syncs it twice, which made bring-up quadratic in the
// VRFs. The labels are those one save per VRF gave, and on disk.
func TestReloadSavesTheLabelsOfItsNewVRFsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a speaker on loopback")
	}
	vrfs := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "  - {name: v%d, rd: '65000:%d', export-targets: ['65000:%d'], static-routes: [{prefix: 10.%d.0.0/24}, {prefix: 10.%d.1.0/24}]}\n", i, i+1, i+1, i, i)
		}
		return b.String()
	}
	state := t.TempDir()
	port := freePort(t, "127.0.0.1")
	config := func(n int) *Config {
		cfg := speakerConfig(t, "1.1.1.1", "127.0.0.1", port, "127.0.0.2", port, vrfs(n))
		cfg.StateDir = state
		return cfg
	}
	s := startSpeaker(t, config(1))
	saves := func() (n int) {
		_ = s.do(func() error { n = s.org.book.saves; return nil })
		return n
	}
	before := saves()
	if err := s.Reload(t.Context(), config(20)); err != nil {
		t.Fatal(err)
	}
	if n := saves() - before; n != 1 {
		t.Errorf("a reload adding 19 VRFs saved the label file %d times, want once", n)
	}
	st, err := os.ReadFile(filepath.Join(state, labelstore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		rs, err := s.LocalRoutes(fmt.Sprintf("v%d", i))
		if err != nil || len(rs) != 2 {
			t.Fatalf("v%d after the reload: %v, %v", i, rs, err)
		}
		if !strings.Contains(string(st), fmt.Sprintf(" \"v%d\"\n", i)) {
			t.Errorf("label file lacks v%d:\n%s", i, st)
		}
	}
}
