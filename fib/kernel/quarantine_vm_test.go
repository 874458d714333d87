package kernel

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
)

// TestVRFRemovalQuarantinesInterfaces: a reload that removes a VRF, or an
// interface from a VRF, must not hand the CE interface to the main table, whose default route (as
// containerlab gives every node, out of a management interface) would
// carry the CE's packets in clear. The CE reaches nothing and nothing of
// it arrives at the management network's sink; a CE interface in the
// quarantine gets no MPLS input; a new Backend whose State does not name
// the interface releases it.
func TestVRFRemovalQuarantinesInterfaces(t *testing.T) {
	requireVM(t)
	pe, ce, ce2, sink := newNS(t), newNS(t), newNS(t), newNS(t)
	link(t, pe, "ce1", "10.1.0.1/24", ce, "eth0", "10.1.0.2/24")
	link(t, pe, "ce2", "10.3.0.1/24", ce2, "eth0", "10.3.0.2/24")
	defaultVia(t, ce2, "10.3.0.1")
	link(t, pe, "mgmt", "198.51.100.1/24", sink, "mgmt", "198.51.100.2/24")
	defaultVia(t, pe, "198.51.100.2")
	defaultVia(t, ce, "10.1.0.1")
	routeVia(t, sink, "10.0.0.0/8", "198.51.100.1")

	redWith := func(ifaces ...string) *fib.State {
		v := &fib.VRF{Name: "red", Table: 1000, Interfaces: ifaces, Routes: map[netip.Prefix]fib.Route{}}
		for _, ifn := range ifaces {
			p := map[string]netip.Prefix{"ce1": pfx("10.1.0.0/24"), "ce2": pfx("10.3.0.0/24")}[ifn]
			v.Routes[p] = fib.Route{Prefix: p, Interface: ifn}
		}
		return &fib.State{VRFs: map[string]*fib.VRF{"red": v}}
	}
	red := redWith("ce1", "ce2")
	ctx := context.Background()
	b, err := New(nil, Options{NetNS: pe})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Apply(ctx, red); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if n := framesFrom(t, sink, "mgmt", "10.1.0.2", func() { _ = ping(ce, "198.51.100.2", 1) }); n != 0 {
		t.Errorf("in VRF red, %d packets of the CE reached the management network", n)
	}

	master := func(ifn string) string {
		h := handle(t, pe)
		l, err := h.LinkByName(ifn)
		if err != nil || l.Attrs().MasterIndex == 0 {
			return ""
		}
		m, err := h.LinkByIndex(l.Attrs().MasterIndex)
		if err != nil {
			return "?"
		}
		return m.Attrs().Name
	}

	// A reload that takes ce2 out of red.
	if err := b.Apply(ctx, redWith("ce1")); err != nil {
		t.Fatalf("Apply without ce2: %v", err)
	}
	if m := master("ce2"); m != QuarantineDevice {
		t.Errorf("ce2, out of red's interfaces, has master %q, want %s", m, QuarantineDevice)
	}
	if n := framesFrom(t, sink, "mgmt", "10.3.0.2", func() { _ = ping(ce2, "198.51.100.2", 4) }); n != 0 {
		t.Errorf("ce2 out of red: %d of its CE's packets reached the management network", n)
	}

	// The reload that removes red.
	if err := b.Apply(ctx, &fib.State{}); err != nil {
		t.Fatalf("Apply without red: %v", err)
	}
	var reached error
	n := framesFrom(t, sink, "mgmt", "10.1.0.2", func() {
		for range 2 {
			if reached = ping(ce, "198.51.100.2", 2); reached == nil {
				break
			}
		}
	})
	if n != 0 || reached == nil {
		t.Errorf("after red was removed, %d packets of its CE reached the management network (answered: %v)", n, reached == nil)
	}
	if m := master("ce1"); m != QuarantineDevice {
		t.Errorf("after red was removed, ce1 has master %q, want %s", m, QuarantineDevice)
	}
	_ = onThreadIn(pe, func() error {
		if v, err := os.ReadFile("/proc/sys/net/mpls/conf/ce1/input"); err == nil && strings.TrimSpace(string(v)) != "0" {
			t.Errorf("quarantined ce1 has MPLS input %s, want 0", strings.TrimSpace(string(v)))
		}
		return nil
	})

	// A restarted daemon whose configuration no longer names ce1
	// releases it.
	b2, err := New(nil, Options{NetNS: pe})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if err := b2.Apply(ctx, &fib.State{}); err != nil {
		t.Fatalf("Apply after restart: %v", err)
	}
	for _, ifn := range []string{"ce1", "ce2"} {
		if m := master(ifn); m != "" {
			t.Errorf("a new run without %s did not release it: master %q", ifn, m)
		}
	}
	for range 3 {
		if reached = ping(ce, "198.51.100.2", 3); reached == nil {
			break
		}
	}
	if reached != nil {
		t.Errorf("released ce1 is not routed by the main table: %v", reached)
	}
}

// framesFrom counts the IPv4 frames from src arriving on ifName in ns
// while f runs.
func framesFrom(t *testing.T, ns netns.NsHandle, ifName, src string, f func()) int {
	t.Helper()
	fd := packetSocket(t, ns, ifName, unix.ETH_P_IP)
	defer unix.Close(fd)
	f()
	tv := unix.Timeval{Usec: 200000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	want := netip.MustParseAddr(src).As4()
	buf := make([]byte, 2000)
	n := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		m, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			break
		}
		if m >= 20 && [4]byte(buf[12:16]) == want {
			n++
		}
	}
	return n
}
