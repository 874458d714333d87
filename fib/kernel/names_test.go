package kernel

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// TestApplyRefusesSharedVRFDevice: two VRFs whose VRF device names meet
// (customer0000869 and customer0001026 are both vrf-customef742) would
// share one device, the second replacing the first's table with its own
// and enslaving its interfaces to it. Apply refuses the State before it
// touches any device, so this runs without the VM (no vrf module needed).
func TestApplyRefusesSharedVRFDevice(t *testing.T) {
	netns.InNewNamespace(t, func() {
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		a, c := "customer0000869", "customer0001026"
		if fib.VRFDevice(a) != fib.VRFDevice(c) {
			t.Fatalf("the example no longer collides: %s %s", fib.VRFDevice(a), fib.VRFDevice(c))
		}
		s := &fib.State{VRFs: map[string]*fib.VRF{a: {Name: a, Table: 1001}, c: {Name: c, Table: 1002}}}
		err = b.Apply(context.Background(), s)
		var clash *fib.DeviceClash
		if !errors.As(err, &clash) {
			t.Fatalf("Apply with two VRFs on %s: %v, want a *fib.DeviceClash", fib.VRFDevice(a), err)
		}
		if _, err := netlink.LinkByName(fib.VRFDevice(a)); err == nil {
			t.Fatalf("device %s created for clashing VRFs", fib.VRFDevice(a))
		}
	})
}
