package clab

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseDaemons(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       string // daemons, comma-separated; or the error's text
	}{
		{"empty: zebra and staticd always", "", "zebra,staticd"},
		{"bgpd", "bgpd=yes\n", "zebra,bgpd,staticd"},
		{"FRR's order, not the file's", "bfdd=yes\nospfd=yes\nbgpd=yes\n", "zebra,bgpd,ospfd,staticd,bfdd"},
		{"no and 0 are off", "bgpd=no\nospfd=0\nripd=\n", "zebra,staticd"},
		{"any other value is on, as in frrcommon.sh", "bgpd=true\n", "zebra,bgpd,staticd"},
		{"quotes and comments", "# bgpd=yes\nbgpd=\"yes\"\nospfd='no'\nripd=yes # for now\n", "zebra,bgpd,ripd,staticd"},
		{"zebra=no cannot stop zebra", "zebra=no\nstaticd=no\n", "zebra,staticd"},
		{"the last assignment wins", "bgpd=yes\nbgpd=no\n", "zebra,staticd"},
		{"options and unknown names ignored", "mgmtd=yes\nbgpd_options=\"-A 127.0.0.1\"\nvtysh_enable=yes\nMAX_FDS=1024\n", "zebra,staticd"},
		{"instances refused", "ospfd=yes\nospfd_instances=1,2\n", `line 2: "ospfd_instances=1,2": several instances`},
		{"not an assignment", "bgpd=yes\nif true; then bgpd=no; fi\n", `line 2: "if true; then bgpd=no; fi": want NAME=VALUE`},
	} {
		got, err := ParseDaemons([]byte(tc.file))
		if err != nil {
			var de *DaemonsError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want a DaemonsError with %q", tc.name, err, tc.want)
			}
			continue
		}
		if s := strings.Join(got, ","); s != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, s, tc.want)
		}
	}
}

// TestParseDaemonsRepoFiles: every daemons file a topology binds starts
// bgpd as well as zebra and staticd.
func TestParseDaemonsRepoFiles(t *testing.T) {
	files, _ := filepath.Glob("../../containerlab/*/*/daemons")
	more, _ := filepath.Glob("../../containerlab/*/*/*/daemons")
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("no daemons files in containerlab/")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseDaemons(b)
		if err != nil || !slices.Equal(got, []string{"zebra", "bgpd", "staticd"}) {
			t.Errorf("%s: %v, %v; want zebra, bgpd, staticd", f, got, err)
		}
	}
}

// FuzzParseDaemons: never a panic; what is accepted is a list in FRR's
// order, without duplicates, zebra first, staticd in it, and nothing
// outside FRR's daemons.
func FuzzParseDaemons(f *testing.F) {
	f.Add([]byte(bgpdDaemons))
	f.Add([]byte("bgpd=\"yes\" # c\nospfd_instances=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseDaemons(data)
		if err != nil {
			return
		}
		if len(got) < 2 || got[0] != "zebra" || !slices.Contains(got, "staticd") {
			t.Fatalf("accepted %q as %v", data, got)
		}
		last := -1
		for _, d := range got {
			i := slices.Index(frrDaemonOrder, d)
			if i <= last {
				t.Fatalf("accepted %q as %v: out of order, repeated or unknown", data, got)
			}
			last = i
		}
	})
}
