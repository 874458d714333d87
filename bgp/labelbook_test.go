package bgp

import (
	"bytes"
	"log/slog"
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
