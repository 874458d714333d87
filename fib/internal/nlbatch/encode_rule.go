package nlbatch

import (
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AppendRuleMsg appends op's request for r to buf, with sequence number
// seq and without NLM_F_ACK, and returns the longer buffer. It writes, in
// place, the shapes the userspace backend makes: a family, priority,
// protocol, input interface, destination prefix, fwmark and mask, and either a table to
// look up, a blackhole (r.Type FR_ACT_BLACKHOLE) or a priority to go to
// (r.Type FR_ACT_GOTO, r.Goto). Fields it does not encode match any
// value when deleting.
//
//	nlmsghdr (16) | fib_rule_hdr (12) | [FRA_DST] | [FRA_TABLE] | [FRA_PRIORITY]
//	  | [FRA_IIFNAME] | [FRA_PROTOCOL] | [FRA_GOTO] | [FRA_FWMARK] | [FRA_FWMASK]
//
//	ip rule add|del [iif IF] [to PREFIX] [fwmark M/MASK] lookup TABLE|blackhole|goto G pref P protocol PROTO
func AppendRuleMsg(buf []byte, r *netlink.Rule, op Op, seq uint32) []byte {
	start := len(buf)
	buf = appendHeader(buf, op, seq, sizeofFibRuleHdr)
	// struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1,
	// res2, action (u8 each), flags (u32).
	m := buf[start+unix.NLMSG_HDRLEN:]
	m[0] = byte(r.Family)
	// No action: look up a table when adding, any action when deleting
	// (a dumped rule's action is not read back), as
	// vishvananda/netlink does.
	action := r.Type
	switch {
	case action == 0 && r.Goto > 0:
		// A dumped goto rule (its action not read back): the kernel
		// refuses a goto target without the goto action ("Unexpected
		// goto"), as vishvananda/netlink sets it.
		action = unix.FR_ACT_GOTO
	case action == 0 && op.Flags&unix.NLM_F_CREATE != 0:
		action = unix.FR_ACT_TO_TBL
	}
	m[7] = action
	if r.Dst != nil {
		ip := r.Dst.IP
		if v4 := ip.To4(); v4 != nil && r.Family == unix.AF_INET {
			ip = v4
		}
		ones, _ := r.Dst.Mask.Size()
		buf[start+unix.NLMSG_HDRLEN+1] = byte(ones)
		buf = appendAttr(buf, unix.FRA_DST, ip)
	}
	if r.Table > 0 && action != unix.FR_ACT_BLACKHOLE {
		if r.Table < 256 {
			buf[start+unix.NLMSG_HDRLEN+4] = byte(r.Table)
		}
		buf = appendUint32Attr(buf, unix.FRA_TABLE, uint32(r.Table))
	}
	if r.Priority >= 0 {
		buf = appendUint32Attr(buf, unix.FRA_PRIORITY, uint32(r.Priority))
	}
	if r.IifName != "" {
		at := len(buf)
		buf = appendAttrHeader(buf, unix.FRA_IIFNAME, len(r.IifName)+1)
		buf = pad(append(append(buf, r.IifName...), 0), at)
	}
	if r.Protocol > 0 {
		at := len(buf)
		buf = pad(append(appendAttrHeader(buf, unix.FRA_PROTOCOL, 1), byte(r.Protocol)), at)
	}
	if r.Goto > 0 {
		buf = appendUint32Attr(buf, unix.FRA_GOTO, uint32(r.Goto))
	}
	// As vishvananda/netlink: a mark without a mask is matched whole.
	if r.Mark != 0 || r.Mask != nil {
		buf = appendUint32Attr(buf, unix.FRA_FWMARK, r.Mark)
	}
	if r.Mask != nil {
		buf = appendUint32Attr(buf, unix.FRA_FWMASK, *r.Mask)
	}
	return finish(buf, start)
}

// sizeofFibRuleHdr is the size of struct fib_rule_hdr.
const sizeofFibRuleHdr = 12

// RuleRequests are op's requests for rules, named by op.Verb and
// key(rule).
func RuleRequests(op Op, rules []*netlink.Rule, key func(*netlink.Rule) string) Requests {
	return Requests{
		N: len(rules),
		Append: func(buf []byte, i int, seq uint32) ([]byte, error) {
			return AppendRuleMsg(buf, rules[i], op, seq), nil
		},
		Name: func(i int) string { return op.Verb + " " + key(rules[i]) },
		Done: op.Done,
	}
}
