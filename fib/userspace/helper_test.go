package userspace

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
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
//	NOBLUE                 after SIGUSR2: applied the State without VRF blue (a reload
//	                       that removes a VRF)
//	STATS {json}           on SIGTERM, the counters
//	CLOSED <leftovers>     after Close: routes of protocol 204 left (want 0); the
//	                       quarantine's rules stay (leaks_test.go checks them)
const helperEnv = "PEREGRINE_USERSPACE_HELPER"

// helperWithoutEnv names a VRF the helper's State leaves out from the
// start (a restart with a config that no longer names it), and also
// makes the helper listen on TCP ports 179 and 9100, as the PE's BGP
// speaker and a metrics endpoint do on every address, for leaks_test.go to
// knock on.
const helperWithoutEnv = "PEREGRINE_USERSPACE_HELPER_WITHOUT"

// helperNoApplyEnv makes the helper Close its backend without an Apply,
// as the daemon does when it fails to start before the FIB's first Apply.
const helperNoApplyEnv = "PEREGRINE_USERSPACE_HELPER_NOAPPLY"

var helperStates = map[string]func() *fib.State{"pe1": pe1State, "pe2": pe2State,
	"pe1-resources": pe1Resources, "pe2-resources": pe2Resources} // resources_netns_test.go

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
	if os.Getenv(helperNoApplyEnv) != "" {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		fmt.Printf("CLOSED %d\n", leftovers(t))
		return
	}
	ctx := context.Background()
	state := helperStates[which]
	if without, ok := os.LookupEnv(helperWithoutEnv); ok {
		state = func() *fib.State {
			return withoutVRF(helperStates[which](), without)
		}
		for _, port := range []string{":179", ":9100"} { // BGP, and metrics' usual port
			ln, err := net.Listen("tcp", port)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					fmt.Printf("ACCEPTED %s on %s\n", c.RemoteAddr(), port)
					c.Close()
				}
			}()
		}
	}
	changes := 0
	for range 2 { // the second Apply must change nothing in the kernel
		changes = b.sys.changes
		if err := b.Apply(ctx, state()); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	fmt.Printf("READY %d\n", b.sys.changes-changes)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2)
	for sig := range sigs {
		if sig == syscall.SIGUSR2 {
			if err := b.Apply(ctx, withoutVRF(state(), "blue")); err != nil {
				t.Fatalf("Apply without blue: %v", err)
			}
			fmt.Println("NOBLUE")
			continue
		}
		if sig == syscall.SIGUSR1 {
			s := state()
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

// withoutVRF removes a VRF and its labels from s, as the reconciler's State
// does when a reload drops the VRF from the config.
func withoutVRF(s *fib.State, name string) *fib.State {
	delete(s.VRFs, name)
	maps.DeleteFunc(s.Labels, func(_ mpls.Label, a fib.LabelAction) bool { return a.VRF == name })
	return s
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
