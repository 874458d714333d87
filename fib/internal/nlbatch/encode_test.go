package nlbatch

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// oracleRuleMsg is op's request for r built with vishvananda/netlink's
// request builder (nl.NetlinkRequest, nl.RtAttr): the rule encoder this
// package had before AppendRuleMsg, kept as its oracle.
func oracleRuleMsg(r *netlink.Rule, op Op, seq uint32) []byte {
	req := nl.NewNetlinkRequest(int(op.Type), int(op.Flags)|unix.NLM_F_ACK)
	req.Seq = seq
	hdr := make([]byte, 12)
	hdr[0] = byte(r.Family)
	action := r.Type
	if action == 0 && r.Goto > 0 { // as vishvananda/netlink's RuleAdd and RuleDel
		action = unix.FR_ACT_GOTO
	}
	if action == 0 && op.Flags&unix.NLM_F_CREATE != 0 {
		action = unix.FR_ACT_TO_TBL
	}
	hdr[7] = action
	var attrs []*nl.RtAttr
	if r.Dst != nil {
		ip := r.Dst.IP
		if v4 := ip.To4(); v4 != nil && r.Family == unix.AF_INET {
			ip = v4
		}
		ones, _ := r.Dst.Mask.Size()
		hdr[1] = byte(ones)
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_DST, ip))
	}
	if r.Table > 0 && action != unix.FR_ACT_BLACKHOLE {
		if r.Table < 256 {
			hdr[4] = byte(r.Table)
		}
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_TABLE, nl.Uint32Attr(uint32(r.Table))))
	}
	if r.Priority >= 0 {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_PRIORITY, nl.Uint32Attr(uint32(r.Priority))))
	}
	if r.IifName != "" {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_IIFNAME, append([]byte(r.IifName), 0)))
	}
	if r.Protocol > 0 {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_PROTOCOL, []byte{byte(r.Protocol)}))
	}
	if r.Goto > 0 {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_GOTO, nl.Uint32Attr(uint32(r.Goto))))
	}
	if r.Mark != 0 || r.Mask != nil {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_FWMARK, nl.Uint32Attr(r.Mark)))
	}
	if r.Mask != nil {
		attrs = append(attrs, nl.NewRtAttr(unix.FRA_FWMASK, nl.Uint32Attr(*r.Mask)))
	}
	req.AddData(raw(hdr))
	for _, a := range attrs {
		req.AddData(a)
	}
	return req.Serialize()
}

// raw is bytes as a netlink request's data, in the order added (the
// request's own AddRawData puts its bytes after every attribute).
type raw []byte

func (r raw) Len() int          { return len(r) }
func (r raw) Serialize() []byte { return r }

// testRule is a rule of protocol 204: family, priority, input
// interface, destination, table and action (0 for none).
func testRule(fam, pref int, iif, dst string, table, typ int) *netlink.Rule {
	r := netlink.NewRule()
	r.Family, r.Priority, r.Protocol, r.IifName, r.Table, r.Type = fam, pref, 204, iif, table, uint8(typ)
	if dst != "" {
		_, r.Dst, _ = net.ParseCIDR(dst)
	}
	return r
}

// ruleCases are the rule shapes the userspace backend makes (planRules),
// and one as a dump reads it back (no action, no protocol).
func ruleCases() map[string]*netlink.Rule {
	rule := testRule
	dumped := rule(unix.AF_INET, 1000, "ce1", "", 2000, 0)
	dumped.Protocol = 0
	hostSkip := rule(unix.AF_INET6, 998, "lo", "", 0, unix.FR_ACT_GOTO)
	hostSkip.Goto = 1001
	bucket := rule(unix.AF_INET, 488, "", "", 0, unix.FR_ACT_GOTO)
	bucketMask := uint32(0x7fc00000)
	bucket.Goto, bucket.Mark, bucket.Mask = 489, 1<<22, &bucketMask
	leaf := rule(unix.AF_INET6, 489, "pg-red", "", 2000, 0)
	leafMask := uint32(0x7fff0000)
	leaf.Mark, leaf.Mask = 64<<16, &leafMask
	dumpedGoto := rule(unix.AF_INET, 487, "", "", 0, 0)
	dumpedGoto.Goto, dumpedGoto.Protocol = 999, 0
	return map[string]*netlink.Rule{
		"goto as dumped":               dumpedGoto,
		"host skips the VRF rules":     hostSkip,
		"CE into VRF":                  rule(unix.AF_INET, 1000, "ce1", "", 2000, 0),
		"TUN into VRF v6":              rule(unix.AF_INET6, 1000, "pg-red", "", 2000, 0),
		"quarantine":                   rule(unix.AF_INET6, 1000, "ce-gone", "", 0, unix.FR_ACT_BLACKHOLE),
		"local moved":                  rule(unix.AF_INET, 1001, "", "", unix.RT_TABLE_LOCAL, 0),
		"own to CE subnet":             rule(unix.AF_INET, 1002, "lo", "10.1.0.0/24", unix.RT_TABLE_MAIN, 0),
		"others to CE subnet":          rule(unix.AF_INET6, 1003, "", "2001:db8::/64", 0, unix.FR_ACT_BLACKHOLE),
		"TUN to PE address":            rule(unix.AF_INET, 999, "pg-red", "10.1.0.1/32", 0, unix.FR_ACT_BLACKHOLE),
		"big table, 15-char interface": rule(unix.AF_INET, 1000, "abcdefghijklmno", "", 70000, 0),
		"as dumped":                    dumped,
		"mark tree bucket":             bucket,
		"mark tree leaf":               leaf,
	}
}

// TestAppendRuleMsgMatchesVishvananda: every rule shape encodes to the
// bytes vishvananda/netlink's builder makes, added and deleted, after
// what the buffer held.
func TestAppendRuleMsgMatchesVishvananda(t *testing.T) {
	for name, r := range ruleCases() {
		for _, op := range []Op{AddRule, DeleteRule} {
			want := oracleRuleMsg(r, op, 42)
			prefix := []byte{0xde, 0xad, 0xbe, 0xef}
			got := AppendRuleMsg(bytes.Clone(prefix), r, op, 42)
			if !bytes.HasPrefix(got, prefix) {
				t.Errorf("%s %s: the buffer's first bytes changed", name, op.Verb)
				continue
			}
			got = got[len(prefix):]
			setAck(got) // the oracle asks for an ACK on every request
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s:\n got % x\nwant % x", name, op.Verb, got, want)
			}
		}
	}
}

// TestAppendAllocs: encoding a route or a rule into a buffer with room
// allocates nothing (the point of not building a netlink.RtAttr per
// attribute).
func TestAppendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	_, dst, _ := net.ParseCIDR("10.0.0.7/32")
	route := &netlink.Route{Table: 1000, Protocol: 204, Family: netlink.FAMILY_V4, Dst: dst, LinkIndex: 3,
		Gw: net.ParseIP("192.168.0.2").To4(), Encap: &netlink.MPLSEncap{Labels: []int{16, 1048575, 3}}}
	rule := ruleCases()["own to CE subnet"]
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := AppendRouteMsg(buf[:0], route, ReplaceRoute, 1); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendRouteMsg allocates %v times per route", n)
	}
	if n := testing.AllocsPerRun(100, func() { AppendRuleMsg(buf[:0], rule, AddRule, 1) }); n != 0 {
		t.Errorf("AppendRuleMsg allocates %v times per rule", n)
	}
}

// TestSetAck sets the flag and nothing else.
func TestSetAck(t *testing.T) {
	m, _ := AppendRouteMsg(nil, &netlink.Route{Table: 7, Dst: &net.IPNet{IP: net.IPv4(10, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}}, ReplaceRoute, 9)
	before := bytes.Clone(m)
	setAck(m)
	if f := binary.NativeEndian.Uint16(m[6:]); f != binary.NativeEndian.Uint16(before[6:])|unix.NLM_F_ACK {
		t.Errorf("flags %#x", f)
	}
	if !bytes.Equal(m[8:], before[8:]) || !bytes.Equal(m[:6], before[:6]) {
		t.Error("setAck changed more than the flags")
	}
}
