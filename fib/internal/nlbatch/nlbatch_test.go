package nlbatch

import (
	"errors"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// TestRulesAndRoutesRoundTrip: rules and routes sent in one batch are
// what the kernel dumps back (vishvananda/netlink reads them), a refused
// request is reported by its name and the others go in, and batches of
// deletions, the rules as dumped and the routes by key, remove them.
func TestRulesAndRoutesRoundTrip(t *testing.T) {
	netns.InNewNamespace(t, func() {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			t.Fatal(err)
		}
		rule := testRule
		rules := []*netlink.Rule{
			rule(unix.AF_INET, 1000, "lo", "", 1234, 0),
			rule(unix.AF_INET6, 1000, "lo", "", 1234, 0),
			rule(unix.AF_INET, 1003, "", "10.9.0.0/16", 0, unix.FR_ACT_BLACKHOLE),
			rule(unix.AF_INET6, 999, "pg-x", "fd00::1/128", 0, unix.FR_ACT_BLACKHOLE),
		}
		_, d1, _ := net.ParseCIDR("10.1.0.0/24")
		_, d2, _ := net.ParseCIDR("fd00:1::/64")
		_, d3, _ := net.ParseCIDR("10.2.0.0/24")
		routes := []*netlink.Route{
			{Dst: d1, Table: 1234, Protocol: 204, Type: unix.RTN_BLACKHOLE, Priority: 7},
			{Dst: d2, Table: 1234, Protocol: 204, LinkIndex: lo.Attrs().Index, Scope: netlink.SCOPE_LINK},
			{Dst: d3, Table: 1234, Protocol: 204, LinkIndex: 9999}, // no such link: refused
		}
		// One batch of both kinds: rules, then routes.
		reqs := Requests{
			N: len(rules) + len(routes),
			Append: func(buf []byte, i int, seq uint32) ([]byte, error) {
				if i < len(rules) {
					return AppendRuleMsg(buf, rules[i], Op{Type: unix.RTM_NEWRULE, Flags: unix.NLM_F_CREATE | unix.NLM_F_EXCL}, seq), nil
				}
				return AppendRouteMsg(buf, routes[i-len(rules)], ReplaceRoute, seq)
			},
			Name: func(i int) string { return "request " + itoa(i) },
		}
		c, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Write(reqs)
		if !errors.Is(err, unix.ENODEV) || err.Error() != "request 6: no such device" {
			t.Errorf("error %v, want request 6 (the route through no link) refused, ENODEV", err)
		}
		got := dumpRules(t)
		want := []string{"4 1000 iif lo table 1234", "4 1003 to 10.9.0.0/16 table 0",
			"6 1000 iif lo table 1234", "6 999 iif pg-x to fd00::1/128 table 0"}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Errorf("rules:\n got %q\nwant %q", got, want)
		}
		// vishvananda/netlink does not read a rule's action back: ip does.
		for fam, want := range map[string]string{"-4": "1003:\tfrom all to 10.9.0.0/16 blackhole proto 204", "-6": "999:\tfrom all to fd00::1 iif pg-x [detached] blackhole proto 204"} {
			out, err := exec.Command("ip", fam, "rule", "show").CombinedOutput()
			if err != nil || !strings.Contains(string(out), want) {
				t.Errorf("ip %s rule show: %v\n%s\nwant a line %q", fam, err, out, want)
			}
		}
		rs, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 1234}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 || rs[0].Type != unix.RTN_BLACKHOLE || rs[0].Priority != 7 || rs[1].LinkIndex != lo.Attrs().Index {
			t.Errorf("routes in table 1234: %v, want the blackhole and the route on lo", rs)
		}

		// Deleted as dumped, as the userspace backend prunes: the
		// dump has no action, which then matches any.
		var dumped []*netlink.Rule
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			rs, err := netlink.RuleList(fam)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Protocol == 204 {
					dumped = append(dumped, &r)
				}
			}
		}
		ruleName := func(r *netlink.Rule) string { return "pref " + itoa(r.Priority) }
		if err := c.Write(RuleRequests(DeleteRule, dumped, ruleName)); err != nil {
			t.Errorf("deleting rules: %v", err)
		}
		routeName := func(r *netlink.Route) string { return r.Dst.String() }
		if err := c.Write(RouteRequests(DeleteRoute, routes[:2], routeName)); err != nil {
			t.Errorf("deleting routes: %v", err)
		}
		if got := dumpRules(t); len(got) != 0 {
			t.Errorf("rules left: %q", got)
		}
		if rs, _ := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 1234}, netlink.RT_FILTER_TABLE); len(rs) != 0 {
			t.Errorf("routes left: %v", rs)
		}
	})
}

// dumpRules lists the rules of protocol 204, IPv4 first.
func dumpRules(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := netlink.RuleList(fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Protocol != 204 {
				continue
			}
			s := map[int]string{netlink.FAMILY_V4: "4", netlink.FAMILY_V6: "6"}[fam] + " " + itoa(r.Priority)
			if r.IifName != "" {
				s += " iif " + r.IifName
			}
			if r.Dst != nil {
				s += " to " + r.Dst.String()
			}
			s += " table " + itoa(r.Table)
			out = append(out, s)
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
