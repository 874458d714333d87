package userspace

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// TestApplyRefusesSharedTUN: two VRFs whose TUN names meet
// (customer0000869 and customer0001026 are both pg-customerf742) must not
// end up on one device, where the second VRF's TUN would attach to the
// first's queues and traffic would cross VRFs: Apply refuses the State
// before it creates any device.
func TestApplyRefusesSharedTUN(t *testing.T) {
	netns.InNewNamespace(t, func() {
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		a, c := "customer0000869", "customer0001026"
		if fib.TUNName(a) != fib.TUNName(c) {
			t.Fatalf("the example no longer collides: %s %s", fib.TUNName(a), fib.TUNName(c))
		}
		s := &fib.State{VRFs: map[string]*fib.VRF{
			a: {Name: a, Table: 1001},
			c: {Name: c, Table: 1002},
		}}
		err = b.Apply(context.Background(), s)
		var clash *fib.DeviceClash
		if !errors.As(err, &clash) {
			t.Fatalf("Apply with two VRFs on %s: %v, want a *fib.DeviceClash", fib.TUNName(a), err)
		}
		if l, err := netlink.LinkByName(fib.TUNName(a)); err == nil {
			t.Fatalf("device %s (index %d) created for clashing VRFs", l.Attrs().Name, l.Attrs().Index)
		}
	})
}
