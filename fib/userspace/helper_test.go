package userspace

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// The netns test runs each PE's backend in a helper process inside the
// PE's namespace: the test binary itself, started again by netns.Node.Start
// (`ip netns exec NS userspace.test -test.run=^TestHelperPE$`) with
// helperEnv naming the PE. A Go process cannot cleanly be in several
// network namespaces at once (netlink handles, TUN devices and sockets all
// belong to the namespace of the thread that makes them), and a process per
// PE is also what a real deployment looks like.
//
// The helper speaks on its standard output, which the lab logs to a file:
//
//	READY <n>              after the first Apply and a second, identical one,
//	                       which made n changes to rules and routes (want 0)
//	NOSA                   after SIGUSR1: applied the State without outbound SAs
//	STATS {json}           on SIGTERM, the counters
//	CLOSED <leftovers>     after Close: routes of protocol 204 left (want 0); the
//	                       quarantine's rules stay (leaks_test.go checks them)
const helperEnv = "PEREGRINE_USERSPACE_HELPER"

var helperStates = map[string]func() *fib.State{"pe1": pe1State, "pe2": pe2State}

func TestHelperPE(t *testing.T) {
	which := os.Getenv(helperEnv)
	if which == "" {
		t.Skip("the netns test's helper process; runs only inside TestNetns")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(log.With("pe", which), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	changes := 0
	for range 2 { // the second Apply must change nothing in the kernel
		changes = b.sys.changes
		if err := b.Apply(ctx, helperStates[which]()); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	fmt.Printf("READY %d\n", b.sys.changes-changes)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1)
	for sig := range sigs {
		if sig == syscall.SIGUSR1 {
			s := helperStates[which]()
			for _, tun := range s.Tunnels {
				tun.Out = nil
			}
			if err := b.Apply(ctx, s); err != nil {
				t.Fatalf("Apply without SAs: %v", err)
			}
			fmt.Println("NOSA")
			continue
		}
		break
	}
	js, _ := json.Marshal(b.Stats())
	fmt.Printf("STATS %s\n", js)
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	fmt.Printf("CLOSED %d\n", leftovers(t))
}

// leftovers counts the routes of protocol RTProto in the namespace.
func leftovers(t *testing.T) int {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: RTProto},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Error(err)
	}
	return len(routes)
}

// waitLine waits until the file at path has a line starting with prefix
// and returns the line.
func waitLine(t *testing.T, path, prefix string, exited func() bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		if exited() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("no %q line in %s:\n%s", prefix, path, b)
	return ""
}
