package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/userspace"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// TestAttachmentTUNFollowsItsVRF: the kernel backend with fib/userspace's
// Gateway, in one namespace, States built by hand. pga-red is enslaved to
// vrf-red and the site routed through it; when red's table changes (the
// backend makes vrf-red again, which releases every interface of the old
// device into the main table's domain) pga-red is in the new vrf-red
// after the Apply, never left where opened packets would be routed by
// the main table; without attachments pga-red and its route are gone.
func TestAttachmentTUNFollowsItsVRF(t *testing.T) {
	requireVM(t)
	pe := newNS(t)
	link(t, pe, "ce1", "10.1.0.1/24", newNS(t), "eth0", "10.1.0.2/24")
	state := func(table uint32, attached bool) *fib.State {
		red := &fib.VRF{Name: "red", Table: table, Interfaces: []string{"ce1"}, Routes: map[netip.Prefix]fib.Route{
			pfx("10.1.0.0/24"): {Prefix: pfx("10.1.0.0/24"), Interface: "ce1"},
		}}
		s := &fib.State{VRFs: map[string]*fib.VRF{"red": red}}
		if attached {
			red.Routes[pfx("10.9.0.0/24")] = fib.Route{Prefix: pfx("10.9.0.0/24"), Attachment: "gw-red"}
			key := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 20)) }
			s.Attachments = map[string]*fib.Attachment{"gw-red": {Name: "gw-red", VRF: "red",
				Remote: netip.MustParseAddrPort("192.0.2.9:4500"), UDP: true,
				Out:          &fib.SAParams{SPI: 0x4001, Cipher: esp.AES128GCM16, Key: key('o')},
				In:           &fib.SAParams{SPI: 0x3001, Cipher: esp.AES128GCM16, Key: key('i')},
				SitePrefixes: []netip.Prefix{pfx("10.9.0.0/24")}, LocalPrefixes: []netip.Prefix{pfx("0.0.0.0/0")}}}
		}
		return s
	}
	// master is pga-red's master's name and vrf-red's table, or why not.
	master := func() (string, error) {
		h := handle(t, pe)
		l, err := h.LinkByName("pga-red")
		if err != nil {
			return "", err
		}
		m, err := h.LinkByIndex(l.Attrs().MasterIndex)
		if err != nil {
			return "", fmt.Errorf("pga-red has no master: %w", err)
		}
		v, ok := m.(*netlink.Vrf)
		if !ok {
			return "", fmt.Errorf("pga-red's master %s is no VRF device", m.Attrs().Name)
		}
		return fmt.Sprintf("%s table %d", v.Name, v.Table), nil
	}
	log := slog.New(slog.DiscardHandler)
	var b *Backend
	err := onThreadIn(pe, func() error {
		g, err := userspace.NewGateway(log, userspace.Options{MTU: 1400})
		if err != nil {
			return err
		}
		if b, err = New(log, Options{ESP: g}); err != nil {
			g.Close()
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	apply := func(s *fib.State) {
		t.Helper()
		if err := onThreadIn(pe, func() error { return b.Apply(context.Background(), s) }); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}

	apply(state(100, true))
	if m, err := master(); err != nil || m != "vrf-red table 100" {
		t.Fatalf("pga-red in %q (%v), want vrf-red table 100", m, err)
	}
	if r := ipShow(t, pe, "route", "show", "table", "100"); !strings.Contains(r, "10.9.0.0/24 dev pga-red") {
		t.Errorf("table 100 has no route to the site through pga-red:\n%s", r)
	}

	apply(state(101, true))
	if m, err := master(); err != nil || m != "vrf-red table 101" {
		t.Errorf("after red's table changed: pga-red in %q (%v), want vrf-red table 101", m, err)
	}
	if r := ipShow(t, pe, "route", "show", "table", "101"); !strings.Contains(r, "10.9.0.0/24 dev pga-red") {
		t.Errorf("table 101 has no route to the site through pga-red:\n%s", r)
	}

	apply(state(101, false))
	if _, err := master(); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("without attachments pga-red is still there (%v)", err)
	}
	if r := ipShow(t, pe, "route", "show", "table", "101"); strings.Contains(r, "10.9.0.0/24") {
		t.Errorf("without attachments table 101 still routes the site:\n%s", r)
	}
}
