package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/peregrine-net/peregrine/labs/internal/modroot"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// Where the peers' programs are, by default.
const (
	DefaultBgpd  = "/usr/lib/frr/bgpd" // FRR keeps its daemons out of PATH
	DefaultVtysh = "vtysh"
	DefaultBird  = "bird"
	DefaultBirdc = "birdc"
)

// ToolsEnv names a directory holding gobgpd and gobgp; without it the
// drivers look in the module's bin/tools (where `make tools` builds them),
// then in PATH.
const ToolsEnv = "PEREGRINE_TOOLS"

// Tool returns the path of a program built by `make tools` (gobgpd, gobgp),
// looking in $PEREGRINE_TOOLS, then in bin/tools of the enclosing module,
// then in PATH.
func Tool(name string) (string, error) {
	var looked []string
	if dir := os.Getenv(ToolsEnv); dir != "" {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, p)
	}
	if root, err := modroot.Find(); err == nil {
		p := filepath.Join(root, "bin", "tools", name)
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, p)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	looked = append(looked, "$PATH")
	return "", fmt.Errorf("%s not found (looked in %s): run `make tools`", name, strings.Join(looked, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func lookPath(p string) error {
	_, err := exec.LookPath(p)
	return err
}

// RequireFRR skips the test unless labs can run and FRR's bgpd and vtysh
// are installed.
func RequireFRR(t netns.TB) {
	t.Helper()
	netns.RequireRoot(t)
	if lookPath(DefaultBgpd) != nil {
		t.Skipf("bgpd not installed (%s): apt-get install frr", DefaultBgpd)
	}
	if lookPath(DefaultVtysh) != nil {
		t.Skipf("vtysh not installed: apt-get install frr")
	}
}

// RequireBIRD skips the test unless labs can run and BIRD 2 is installed.
func RequireBIRD(t netns.TB) {
	t.Helper()
	netns.RequireRoot(t)
	for _, p := range []string{DefaultBird, DefaultBirdc} {
		if lookPath(p) != nil {
			t.Skipf("%s not installed: apt-get install bird2", p)
		}
	}
}

// RequireGoBGP skips the test unless labs can run and gobgpd and gobgp are
// built.
func RequireGoBGP(t netns.TB) {
	t.Helper()
	netns.RequireRoot(t)
	for _, p := range []string{"gobgpd", "gobgp"} {
		if _, err := Tool(p); err != nil {
			t.Skipf("gobgpd/gobgp v3.37.0 not built: %v", err)
		}
	}
}
