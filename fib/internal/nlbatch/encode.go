package nlbatch

import (
	"encoding/binary"
	"errors"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Route is the request typ (RTM_NEWROUTE or RTM_DELROUTE), with flags
// (NLM_F_ACK is added), for r: the shapes the fib backends make (unicast
// through an interface, with a gateway, an MPLS via or an MPLS encap;
// unreachable, blackhole, local, broadcast and multicast; MPLS label
// routes).
//
//	ip route replace|del ...
func Route(r *netlink.Route, typ uint16, flags int) ([]byte, error) {
	req := nl.NewNetlinkRequest(int(typ), flags|unix.NLM_F_ACK)
	msg := nl.NewRtMsg()
	msg.Protocol = uint8(r.Protocol)
	msg.Scope = uint8(r.Scope)
	msg.Type = unix.RTN_UNICAST
	if r.Type != 0 {
		msg.Type = uint8(r.Type)
	}
	msg.Flags = uint32(r.Flags)
	var attrs []*nl.RtAttr
	switch {
	case r.Family == netlink.FAMILY_MPLS:
		if r.MPLSDst == nil {
			return nil, errors.New("MPLS route without a label")
		}
		msg.Family = netlink.FAMILY_MPLS
		msg.Dst_len = 20
		msg.Table = unix.RT_TABLE_MAIN
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_DST, nl.EncodeMPLSStack(*r.MPLSDst)))
	case r.Dst != nil:
		ip := r.Dst.IP
		msg.Family = unix.AF_INET6
		if v4 := ip.To4(); v4 != nil {
			ip, msg.Family = v4, unix.AF_INET
		}
		ones, _ := r.Dst.Mask.Size()
		msg.Dst_len = uint8(ones)
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_DST, ip))
	default:
		return nil, ErrNoDestination
	}
	if r.Family != netlink.FAMILY_MPLS {
		if r.Table < 256 {
			msg.Table = uint8(r.Table)
		} else {
			msg.Table = unix.RT_TABLE_UNSPEC
			attrs = append(attrs, nl.NewRtAttr(unix.RTA_TABLE, nl.Uint32Attr(uint32(r.Table))))
		}
	}
	if r.Priority != 0 {
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_PRIORITY, nl.Uint32Attr(uint32(r.Priority))))
	}
	if r.LinkIndex != 0 {
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(r.LinkIndex))))
	}
	if r.Gw != nil {
		gw := r.Gw
		if v4 := gw.To4(); v4 != nil && msg.Family == unix.AF_INET {
			gw = v4
		}
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_GATEWAY, []byte(gw)))
	}
	if r.Via != nil {
		buf, err := r.Via.Encode()
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_VIA, buf))
	}
	if r.Encap != nil {
		typ := make([]byte, 2)
		binary.NativeEndian.PutUint16(typ, uint16(r.Encap.Type()))
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_ENCAP_TYPE, typ))
		buf, err := r.Encap.Encode()
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nl.NewRtAttr(unix.RTA_ENCAP|unix.NLA_F_NESTED, buf))
	}
	req.AddData(msg)
	for _, a := range attrs {
		req.AddData(a)
	}
	return req.Serialize(), nil
}

// Rule is the request typ (RTM_NEWRULE or RTM_DELRULE), with flags
// (NLM_F_ACK is added), for r: the shapes the userspace backend makes, a
// family, priority, protocol, input interface, destination prefix, and
// either a table to look up or a blackhole (r.Type FR_ACT_BLACKHOLE).
// Fields it does not encode match any value when deleting.
//
//	ip rule add|del [iif IF] [to PREFIX] lookup TABLE|blackhole pref P protocol PROTO
func Rule(r *netlink.Rule, typ uint16, flags int) []byte {
	req := nl.NewNetlinkRequest(int(typ), flags|unix.NLM_F_ACK)
	// struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1,
	// res2, action (u8 each), flags (u32).
	hdr := make([]byte, 12)
	hdr[0] = byte(r.Family)
	// No action: look up a table when adding, any action when
	// deleting (a dumped rule's action is not read back), as
	// vishvananda/netlink does.
	action := r.Type
	if action == 0 && flags&unix.NLM_F_CREATE != 0 {
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
