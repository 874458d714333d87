package userspace

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// ruleLines renders a rule set as sorted `ip rule` lines, "-6" for IPv6.
func ruleLines(set ruleSet) []string {
	var out []string
	for k := range set.rules {
		fam := ""
		if k.family == netlink.FAMILY_V6 {
			fam = "-6 "
		}
		out = append(out, fam+k.String())
	}
	slices.Sort(out)
	return out
}

// TestPlanRules: the rules for a running VRF, a quarantined interface and
// the CE subnets, and none at all (local rule back at priority 0) once no
// CE interface is held.
func TestPlanRules(t *testing.T) {
	vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	addrs := map[string][]netip.Prefix{
		"ce1": {pfx("10.1.0.1/24"), pfx("fd00:1::1/64"), pfx("fe80::1/64")},
		"ce2": {pfx("10.3.0.1/24")},
		"ce9": {pfx("10.9.0.1/24")}, // held by no one
	}
	got := planRules(1000, vrfs, []string{"ce2", "ce1"}, addrs)
	want := []string{
		"-6 pref 0 nop",
		"-6 pref 1000 iif ce1 lookup 101",
		"-6 pref 1000 iif ce2 blackhole",
		"-6 pref 1000 iif pg-red lookup 101",
		"-6 pref 1001 lookup 255",
		"-6 pref 1002 iif lo to fd00:1::/64 lookup 254",
		"-6 pref 1003 to fd00:1::/64 blackhole",
		"-6 pref 486 iif lo goto 1001",
		"-6 pref 999 iif pg-red to fd00:1::1/128 blackhole",
		"-6 pref 999 iif pg-red to fe80::1/128 blackhole",
		"pref 0 nop",
		"pref 1000 iif ce1 lookup 101",
		"pref 1000 iif ce2 blackhole",
		"pref 1000 iif pg-red lookup 101",
		"pref 1001 lookup 255",
		"pref 1002 iif lo to 10.1.0.0/24 lookup 254",
		"pref 1002 iif lo to 10.3.0.0/24 lookup 254",
		"pref 1003 to 10.1.0.0/24 blackhole",
		"pref 1003 to 10.3.0.0/24 blackhole",
		"pref 486 iif lo goto 1001",
		"pref 999 iif pg-red to 10.1.0.1/32 blackhole",
	}
	if lines := ruleLines(got); !slices.Equal(lines, want) || !got.moveLocal {
		t.Errorf("planRules (moveLocal %v):\n%s\nwant:\n%s", got.moveLocal, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// ce1 is in red: held, not quarantined, though the list names it.
	if got.rules[ruleKey{family: netlink.FAMILY_V4, pref: 1000, iif: "ce1"}] {
		t.Error("ce1 is both in red and blackholed")
	}

	if none := planRules(1000, nil, nil, addrs); len(none.rules) != 0 || none.moveLocal {
		t.Errorf("with no CE interface: %v, moveLocal %v; want nothing", ruleLines(none), none.moveLocal)
	}
}

// TestAddCoreSkip: the core interface's packets skip the VRF rules as
// the host's own do, unless it is a CE interface or no VRF rule is
// there to skip.
func TestAddCoreSkip(t *testing.T) {
	vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	no := func(string) bool { return false }
	set := planRules(1000, vrfs, nil, nil)
	addCoreSkip(set, 1000, "core", no)
	var gotos []string
	for _, l := range ruleLines(set) {
		if strings.Contains(l, "goto") {
			gotos = append(gotos, l)
		}
	}
	want := []string{"-6 pref 486 iif core goto 1001", "-6 pref 486 iif lo goto 1001", "pref 486 iif core goto 1001", "pref 486 iif lo goto 1001"}
	if !slices.Equal(gotos, want) {
		t.Errorf("goto rules %q, want %q", gotos, want)
	}
	held := planRules(1000, vrfs, nil, nil)
	addCoreSkip(held, 1000, "ce1", func(s string) bool { return s == "ce1" })
	none := planRules(1000, nil, nil, nil)
	addCoreSkip(none, 1000, "core", no)
	if len(held.rules) != len(planRules(1000, vrfs, nil, nil).rules) || len(none.rules) != 0 {
		t.Errorf("a CE interface or no VRF got a core goto: %q, %q", ruleLines(held), ruleLines(none))
	}
}
