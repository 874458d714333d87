package interop_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// peregrinedBin is built once per test binary by TestMain.
var peregrinedBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peregrine-interop")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	peregrinedBin, err = pelab.BuildPeregrined(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pe is a running peregrined and its local API (labs/internal/pelab).
type (
	pe          = pelab.PE
	apiNeighbor = pelab.Neighbor
	apiRoute    = pelab.Route
)

func startPE(t *testing.T, node *netns.Node, configYAML string) *pe {
	t.Helper()
	return pelab.StartPE(t, node, peregrinedBin, configYAML)
}
