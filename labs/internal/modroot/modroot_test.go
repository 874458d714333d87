package modroot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFindSkipsOtherModules(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+Module+"\n\ngo 1.26.0\n")
	write("tools/go.mod", "module "+Module+"/tools\n")
	write("tools/sub/x.txt", "")
	got, err := findFrom(filepath.Join(root, "tools", "sub"))
	if err != nil || got != root {
		t.Fatalf("findFrom(tools/sub) = %q, %v; want %q", got, err, root)
	}
}

func TestFindOutsideTheModule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := findFrom(dir); !errors.Is(err, ErrNotFound) {
		t.Fatalf("findFrom(other module) = %q, %v; want ErrNotFound", got, err)
	}
}

func TestFindFromThisPackage(t *testing.T) {
	got, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(got, "labs", "internal", "modroot")); err != nil {
		t.Fatalf("Find() = %q, not the module holding this package: %v", got, err)
	}
}
