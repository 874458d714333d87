package statefile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteReplaces: the file holds the new data with mode 0600 and no
// temporary file is left beside it.
func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "labels")
	for _, data := range []string{"first\n", "second, longer than the first\n", "3\n"} {
		if err := Write(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != data {
			t.Fatalf("after writing %q: %q, %v", data, got, err)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
}

// TestWriteFailsKeepsOld: a write that cannot finish (the target is a
// directory) reports it, leaves no temporary file and does not touch
// what was there.
func TestWriteFailsKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new")); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p, "keep")); err != nil {
		t.Errorf("old content lost: %v", err)
	}
}

// TestWriteRefusesPlantedSymlink: a symbolic link at the temporary name
// (planted by someone who can write the state directory) makes Write
// fail; the file it points at keeps its content.
func TestWriteRefusesPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "labels")
	if err := os.Symlink(victim, p+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new")); err == nil {
		t.Fatal("Write followed a symbolic link at its temporary name")
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "keep me" {
		t.Errorf("the link's target now holds %q (%v)", got, err)
	}
}
