package containerlab

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRuncWrapper runs runc-nosysresource with a fake runc first in PATH:
// on create it must strip CAP_SYS_RESOURCE from every capability set of
// the bundle's config.json, on exec from the --process file, keep every
// other capability and field, and hand runc its arguments unchanged.
func TestRuncWrapper(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed (apt-get install jq): runc-nosysresource needs it")
	}
	wrapper, err := filepath.Abs("runc-nosysresource")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(dir, "args")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n"
	if err := os.WriteFile(filepath.Join(bin, "runc"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	caps := []string{"CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_RAW"}
	set := map[string][]string{"bounding": caps, "effective": caps, "permitted": caps}
	bundle := filepath.Join(dir, "bundle")
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(bundle, "config.json"), map[string]any{"ociVersion": "1.0.2", "process": map[string]any{"capabilities": set, "cwd": "/"}})
	process := filepath.Join(dir, "process.json")
	writeJSON(t, process, map[string]any{"capabilities": set, "cwd": "/"})

	for _, tc := range []struct {
		name string
		args []string
		file string
		caps func(doc map[string]any) any
	}{
		{"create", []string{"--root", "/run/x", "create", "--bundle", bundle, "--pid-file", "/run/x/pid", "ctr1"}, filepath.Join(bundle, "config.json"),
			func(doc map[string]any) any { return doc["process"].(map[string]any)["capabilities"] }},
		{"exec", []string{"--root", "/run/x", "exec", "--process", process, "--detach", "ctr1"}, process,
			func(doc map[string]any) any { return doc["capabilities"] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(wrapper, tc.args...)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(tc.args, "\n") + "\n"; string(got) != want {
				t.Errorf("runc got args\n%s\nwant\n%s", got, want)
			}
			var doc map[string]any
			b, _ := os.ReadFile(tc.file)
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s: %v\n%s", tc.file, err, b)
			}
			sets, _ := tc.caps(doc).(map[string]any)
			if len(sets) != 3 {
				t.Fatalf("capability sets %v, want bounding, effective, permitted", sets)
			}
			for name, v := range sets {
				var list []string
				for _, c := range v.([]any) {
					list = append(list, c.(string))
				}
				if want := []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}; !slices.Equal(list, want) {
					t.Errorf("%s: %v, want %v", name, list, want)
				}
			}
			if doc["cwd"] == nil && doc["process"] == nil {
				t.Errorf("other fields lost: %s", b)
			}
		})
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
