package bgp

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/mpls"
	"github.com/peregrine-net/peregrine/mpls/labelstore"
)

// A label range narrowed across a restart: the binding whose label fell
// outside gets a new one and the log says so; the one inside keeps its
// label; the file is rewritten with the new range at the first flush.
func TestLabelBookRangeChange(t *testing.T) {
	dir := t.TempDir()
	s, _, err := labelstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := &mpls.AllocatorState{Range: mpls.Range{First: 1000, Last: 1999}, Next: 1002, Bound: []mpls.BoundLabel{
		{Label: 1000, Binding: mpls.Binding{VRF: "red"}}, {Label: 1001, Binding: mpls.Binding{VRF: "blue"}}}}
	if err := s.Save(old); err != nil {
		t.Fatal(err)
	}
	s.Close()

	var logs bytes.Buffer
	b := newLabelBook(&Config{Labels: mpls.Range{First: 1001, Last: 1999}, StateDir: dir}, slog.New(slog.NewTextHandler(&logs, nil)))
	a, err := b.allocator()
	if err != nil {
		t.Fatal(err)
	}
	blue, _ := a.ForVRF("blue")
	red, _ := a.ForVRF("red")
	if blue != 1001 || red == 1000 || red == 1001 {
		t.Errorf("after the range change: blue %d (want 1001), red %d (want a new label)", blue, red)
	}
	if !strings.Contains(logs.String(), "outside the configured label range") || !strings.Contains(logs.String(), "label=1000") {
		t.Errorf("log does not name label 1000 outside the range:\n%s", logs.String())
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	b.close()
	s, st, err := labelstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st.Range != (mpls.Range{First: 1001, Last: 1999}) || len(st.Bound) != 2 {
		t.Errorf("saved state %+v, want the new range and two bindings", st)
	}
}

// blockSaves makes every save of dir's label file fail, as a full disk
// does, even for root: a non-empty directory where the temporary file
// goes. The returned function lets saves through again.
func blockSaves(t *testing.T, dir string) (unblock func()) {
	t.Helper()
	tmp := filepath.Join(dir, labelstore.FileName+".tmp")
	if err := os.MkdirAll(filepath.Join(tmp, "full"), 0o700); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.RemoveAll(tmp); err != nil {
			t.Fatal(err)
		}
	}
}

// A reload refused because a new VRF's label could not be saved must not
// keep that label bound: reloads that need no new label apply while the
// disk is still full, and the new VRF gets its label once there is room.
func TestReloadAfterUnsavedLabelRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a speaker on loopback")
	}
	state := t.TempDir()
	red := "  - {name: red, rd: '65000:1', export-targets: ['65000:1'], static-routes: [{prefix: 10.1.0.0/24}]}\n"
	redMore := "  - {name: red, rd: '65000:1', export-targets: ['65000:1'], static-routes: [{prefix: 10.1.0.0/24}, {prefix: 10.9.0.0/24}]}\n"
	green := "  - {name: green, rd: '65000:3', export-targets: ['65000:1'], static-routes: [{prefix: 10.3.0.0/24}]}\n"
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	config := func(vrfs string) *Config {
		cfg := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, vrfs)
		cfg.StateDir = state
		return cfg
	}
	s := startSpeaker(t, config(red))
	ctx := t.Context()

	unblock := blockSaves(t, state)
	if err := s.Reload(ctx, config(red+green)); err == nil || !strings.Contains(err.Error(), "labels not persisted") {
		t.Fatalf("reload adding green with saves failing = %v, want labels not persisted", err)
	}
	if rs, _ := s.LocalRoutes("green"); len(rs) != 0 {
		t.Errorf("green advertised without its label on disk: %v", rs)
	}
	// Nothing new to bind: both apply although the disk is still full.
	if err := s.Reload(ctx, config(red)); err != nil {
		t.Errorf("reload back to the running VRFs, saves failing: %v", err)
	}
	if err := s.Reload(ctx, config(redMore)); err != nil {
		t.Errorf("reload adding a static route under red's per-VRF label, saves failing: %v", err)
	}
	unblock()
	if err := s.Reload(ctx, config(redMore+green)); err != nil {
		t.Fatalf("reload adding green with room again: %v", err)
	}
	rs, err := s.LocalRoutes("green")
	if err != nil || len(rs) != 1 {
		t.Fatalf("green after the reload: %v, %v", rs, err)
	}
	st, err := os.ReadFile(filepath.Join(state, labelstore.FileName))
	if err != nil || !strings.Contains(string(st), `"green"`) {
		t.Errorf("label file after green's reload lacks green (%v):\n%s", err, st)
	}
}
