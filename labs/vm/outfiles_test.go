package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutFiles: PEREGRINE-VM-OUT lines land in their file, in order;
// other console lines do not; a name that would leave the directory is
// refused.
func TestOutFiles(t *testing.T) {
	dir := t.TempDir()
	o := newOutFiles(dir)
	for _, l := range []string{
		"PEREGRINE-VM-OUT scale.csv: vrfs,bringup_s",
		"=== RUN BenchmarkKernelScale",
		"PEREGRINE-VM-OUT scale.csv: 100,1.500",
	} {
		if err := o.line(l); err != nil {
			t.Fatal(err)
		}
	}
	o.close()
	got, err := os.ReadFile(filepath.Join(dir, "scale.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "vrfs,bringup_s\n100,1.500\n"; string(got) != want {
		t.Errorf("scale.csv = %q, want %q", got, want)
	}
	for _, bad := range []string{"PEREGRINE-VM-OUT ../x: y", "PEREGRINE-VM-OUT a/b: y", "PEREGRINE-VM-OUT .x: y", "PEREGRINE-VM-OUT nocolon"} {
		if err := o.line(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestExportLines: values are single-quoted for /init's shell, quotes
// inside them escaped; bad names are refused.
func TestExportLines(t *testing.T) {
	got := exportLines([]string{"PEREGRINE_SCALE_VRFS=100 500", "Q=it's"})
	want := "export PEREGRINE_SCALE_VRFS='100 500'\nexport Q='it'\\''s'\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, k := range []string{"", "1A", "A-B", "A B", "A;rm"} {
		if validEnvName(k) {
			t.Errorf("%q accepted as a name", k)
		}
	}
}
