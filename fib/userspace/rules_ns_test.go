package userspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// inNewNS runs f in a new network namespace with a netlink handle made
// there, on a locked thread.
func inNewNS(t *testing.T, f func(h *netlink.Handle)) {
	t.Helper()
	netns.InNewNamespace(t, func() {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		f(h)
	})
}

// upVeth makes the veth name (its peer "p"+name) with addr, if not "",
// and sets it up, as a CE interface of the tests.
func upVeth(t *testing.T, h *netlink.Handle, name, addr string) netlink.Link {
	t.Helper()
	link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "p" + name}
	if err := h.LinkAdd(link); err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		ad, err := netlink.ParseAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	return link
}

// localRules lists the priorities of the namespace's `lookup local`
// rules, "-6 " before IPv6 ones, and whether any is of protocol 204.
func localRules(t *testing.T, h *netlink.Handle) []string {
	var out []string
	for _, fam := range families {
		rules, err := h.RuleList(fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.Table != unix.RT_TABLE_LOCAL {
				continue
			}
			line := map[int]string{netlink.FAMILY_V4: "", netlink.FAMILY_V6: "-6 "}[fam] + ruleKeyOf(fam, r).String()
			if r.Protocol == RTProto {
				line += " proto 204"
			}
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

// TestLocalRuleMovesAndComesBack: while the backend holds a CE interface
// the local rule is at PRIO+1 and none at 0; once it holds none, priority 0
// is back, unless the operator had moved the local rule (as for kernel
// VRFs), which is left alone.
func TestLocalRuleMovesAndComesBack(t *testing.T) {
	red := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	sync := func(t *testing.T, s *system, vrfs map[string]*fib.VRF) {
		t.Helper()
		set := planRules(s.prio, vrfs, nil, nil)
		if err := s.syncRules(set, false); err != nil {
			t.Fatal(err)
		}
		if err := s.syncRules(set, true); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, h *netlink.Handle, want ...string) {
		t.Helper()
		if got := localRules(t, h); !slices.Equal(got, want) {
			t.Errorf("local rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	t.Run("kernel default", func(t *testing.T) {
		inNewNS(t, func(h *netlink.Handle) {
			s := &system{h: h, prio: DefaultRulePriority}
			sync(t, s, red)
			check(t, h, "-6 pref 1001 lookup 255 proto 204", "pref 1001 lookup 255 proto 204")
			sync(t, s, red) // nothing changes
			check(t, h, "-6 pref 1001 lookup 255 proto 204", "pref 1001 lookup 255 proto 204")
			sync(t, s, nil)
			check(t, h, "-6 pref 0 lookup 255", "pref 0 lookup 255")
		})
	})
	t.Run("operator moved local", func(t *testing.T) {
		inNewNS(t, func(h *netlink.Handle) {
			for _, fam := range families {
				r := netlink.NewRule()
				r.Family, r.Priority, r.Table = fam, 32765, unix.RT_TABLE_LOCAL
				if err := h.RuleAdd(r); err != nil {
					t.Fatal(err)
				}
				r.Priority = 0
				if err := h.RuleDel(r); err != nil {
					t.Fatal(err)
				}
			}
			s := &system{h: h, prio: DefaultRulePriority}
			sync(t, s, red)
			check(t, h, "-6 pref 1001 lookup 255 proto 204", "-6 pref 32765 lookup 255", "pref 1001 lookup 255 proto 204", "pref 32765 lookup 255")
			sync(t, s, nil)
			check(t, h, "-6 pref 32765 lookup 255", "pref 32765 lookup 255")
		})
	})
}

// priorityZeroRules lists the rules of family fam at priority 0 as
// "proto P action A", read from a dump of its own: vishvananda/netlink
// does not read a rule's action back.
func priorityZeroRules(t *testing.T, fam int) []string {
	t.Helper()
	req := nl.NewNetlinkRequest(unix.RTM_GETRULE, unix.NLM_F_DUMP)
	req.AddData(nl.NewRtMsg()) // a fib_rule_hdr is laid out as an rtmsg
	req.Data[0].(*nl.RtMsg).Family = uint8(fam)
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWRULE)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		hdr := nl.DeserializeRtMsg(m) // fib_rule_hdr: action where rtm_type is
		attrs, err := nl.ParseRouteAttr(m[hdr.Len():])
		if err != nil {
			t.Fatal(err)
		}
		prio, proto := uint32(0), uint8(0)
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.FRA_PRIORITY:
				prio = binary.NativeEndian.Uint32(a.Value)
			case unix.FRA_PROTOCOL:
				proto = a.Value[0]
			}
		}
		if prio == 0 {
			out = append(out, fmt.Sprintf("proto %d action %d", proto, hdr.Type))
		}
	}
	slices.Sort(out)
	return out
}

// TestAnchorRule: while the local rule is moved, each family keeps one
// rule at priority 0, ours, that does nothing (ruleorder.go: without one
// every rule added walks all the others); a sync that dumps reads it back
// as the anchor and changes nothing; once the backend holds no CE
// interface, the kernel's local rule is back at 0 and the anchor gone.
func TestAnchorRule(t *testing.T) {
	red := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	inNewNS(t, func(h *netlink.Handle) {
		s := &system{h: h, prio: DefaultRulePriority}
		sync := func(vrfs map[string]*fib.VRF) {
			t.Helper()
			set := planRules(s.prio, vrfs, nil, nil)
			if err := errors.Join(s.syncRules(set, false), s.syncRules(set, true)); err != nil {
				t.Fatal(err)
			}
		}
		check := func(what string, want ...string) {
			t.Helper()
			for _, fam := range families {
				if got := priorityZeroRules(t, fam); !slices.Equal(got, want) {
					t.Errorf("%s, family %d: priority 0 holds %q, want %q", what, fam, got, want)
				}
			}
		}
		anchor := fmt.Sprintf("proto %d action %d", RTProto, unix.FR_ACT_NOP)
		local := fmt.Sprintf("proto %d action %d", unix.RTPROT_KERNEL, unix.FR_ACT_TO_TBL)
		check("before", local)
		sync(red)
		check("holding ce1", anchor)
		s.ruleCache = nil // the next sync dumps
		before := s.changes
		sync(red)
		if s.changes != before {
			t.Errorf("a sync after a dump made %d changes, want none", s.changes-before)
		}
		check("after the dump", anchor)
		sync(nil)
		check("holding nothing", local)
	})
}
