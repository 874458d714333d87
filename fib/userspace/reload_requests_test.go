package userspace

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
)

// reloadRequests brings up vrfs VRFs, each with a CE interface (a veth with
// an address) and a static route through its CE, then applies the
// same State with one VRF more, and returns the netlink requests that
// second Apply sent, and those the first sent.
func reloadRequests(t *testing.T, vrfs int) (n, bringUp int) {
	inNewNS(t, func(h *netlink.Handle) {
		s := &fib.State{VRFs: map[string]*fib.VRF{}}
		add := func(i int) {
			name, ifname := fmt.Sprintf("r%d", i), fmt.Sprintf("ce%d", i)
			upVeth(t, h, ifname, fmt.Sprintf("10.%d.%d.1/24", 100+i/250, i%250))
			ce := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.2", 100+i/250, i%250))
			p := netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i%250))
			s.VRFs[name] = &fib.VRF{Name: name, Table: uint32(2000 + i), Interfaces: []string{ifname},
				Routes: map[netip.Prefix]fib.Route{p: {Prefix: p, NextHop: ce, Interface: ifname}}}
		}
		for i := range vrfs {
			add(i)
		}
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		bringUp = b.sys.requests
		next := &fib.State{VRFs: map[string]*fib.VRF{}}
		for k, v := range s.VRFs {
			next.VRFs[k] = v
		}
		s = next
		add(vrfs)
		before := b.sys.requests
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		n = b.sys.requests - before
	})
	return n, bringUp
}

// TestReloadAddingOneVRFSendsRequestsForItAlone (issue 23): adding one
// VRF to 40 sends as many netlink requests as adding one to 5: nothing
// is read or written per VRF the reload leaves alone (it was, once per
// CE interface and more, which made bring-up quadratic).
func TestReloadAddingOneVRFSendsRequestsForItAlone(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	few, _ := reloadRequests(t, 5)
	many, _ := reloadRequests(t, 40)
	t.Logf("netlink requests adding one VRF: to 5: %d, to 40: %d", few, many)
	if many > few {
		t.Errorf("adding one VRF to 40 sent %d netlink requests, to 5 %d: want as many", many, few)
	}
}

// TestBringUpBatchesRulesAndRoutes: bringing up 40 VRFs, each with
// four rules and a dozen routes to install, takes a few batched
// requests, not one round trip per rule and route.
func TestBringUpBatchesRulesAndRoutes(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	_, n := reloadRequests(t, 40)
	t.Logf("netlink requests bringing up 40 VRFs: %d", n)
	if n > 20 {
		t.Errorf("bringing up 40 VRFs sent %d netlink requests, want at most 20 (dumps and batches)", n)
	}
}

// TestPruneAfterAddSendsNoRuleDump: Apply's prune pass, right after its
// add pass of the same rules, prunes what that pass found, where it
// dumped every rule again (the rules of every VRF, in each family): it
// sends the deletions of the kernel's priority-0 local rule, one batch
// per family, and no dump.
func TestPruneAfterAddSendsNoRuleDump(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		s := &system{h: h, prio: DefaultRulePriority}
		defer s.close()
		vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
		set := planRules(s.prio, vrfs, nil, nil)
		if err := s.syncRules(set, false); err != nil {
			t.Fatal(err)
		}
		before := s.requests
		if err := s.syncRules(set, true); err != nil {
			t.Fatal(err)
		}
		if n := s.requests - before; n != 2 {
			t.Errorf("the prune pass sent %d requests, want 2 (a deletion batch per family, no dump)", n)
		}
		// And it pruned: the kernel's priority-0 local rule is gone.
		if got := localRules(t, h); len(got) != 2 || slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "pref 0 ") }) {
			t.Errorf("local rules after the prune: %q, want the two moved ones only", got)
		}
	})
}

// TestRepeatedApplyReadsNoRules: an Apply that changes nothing reads
// not the rules, which it knows from the last sync (a rule dump is as
// long as the rules of every VRF), nor the host's links, addresses and
// local table, unless the kernel's deferred news of the TUN's state
// came after the first Apply read them (hostwatch.go): then those three.
func TestRepeatedApplyReadsNoRules(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	inNewNS(t, func(h *netlink.Handle) {
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := &fib.State{VRFs: map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"lo"}}}}
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		before := b.sys.requests
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if n := b.sys.requests - before; n != 0 && n != 3 {
			t.Errorf("an Apply that changes nothing sent %d netlink requests, want none (or 3: links, addresses, local table)", n)
		}
	})
}
