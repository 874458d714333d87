package nlbatch

import (
	"encoding/binary"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// AppendRouteMsg appends op's request for r to buf, with sequence number
// seq and without NLM_F_ACK (the writer asks for it on a batch's last
// request), and returns the longer buffer; on error buf is returned as it
// was. It writes, in place and without a netlink.RtAttr per attribute (0
// allocations), the shapes the fib backends make (unicast via an
// interface, with a gateway, an MPLS via or an MPLS encap; unreachable,
// blackhole, local, broadcast and multicast; MPLS label routes), the
// bytes vishvananda/netlink's request builder would (fib/kernel's
// encode_test.go):
//
//	nlmsghdr (16) | rtmsg (12) | RTA_DST | [RTA_TABLE] | [RTA_PRIORITY] | [RTA_OIF]
//	  | [RTA_GATEWAY] | [RTA_VIA] | [RTA_ENCAP_TYPE, RTA_ENCAP {MPLS_IPTUNNEL_DST}]
//
// For an op that names routes by key (DeleteRoute) it stops after
// RTA_PRIORITY, with scope RT_SCOPE_NOWHERE (any; an MPLS route's
// universe) and no flags, as `ip route del PREFIX table T proto 204
// metric M` does: the kernel then finds the route by family, table,
// destination, metric, protocol and type, without building and
// comparing a next hop or an MPLS encap per route.
func AppendRouteMsg(buf []byte, r *netlink.Route, op Op, seq uint32) ([]byte, error) {
	start := len(buf)
	buf = appendHeader(buf, op, seq, unix.SizeofRtMsg)
	// rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
	m := buf[start+unix.NLMSG_HDRLEN:]
	m[5], m[6], m[7] = uint8(r.Protocol), uint8(r.Scope), unix.RTN_UNICAST
	if r.Type != 0 {
		m[7] = uint8(r.Type)
	}
	if op.KeyOnly {
		// Any scope; MPLS routes have one only (the kernel refuses a
		// delete with another: "MPLS only supports UNIVERSE").
		m[6] = unix.RT_SCOPE_NOWHERE
		if r.Family == netlink.FAMILY_MPLS {
			m[6] = unix.RT_SCOPE_UNIVERSE
		}
	} else {
		binary.NativeEndian.PutUint32(m[8:], uint32(r.Flags))
	}
	family := uint8(unix.AF_INET6)
	switch {
	case r.Family == netlink.FAMILY_MPLS:
		if r.MPLSDst == nil {
			return buf[:start], ErrNoLabel
		}
		family = netlink.FAMILY_MPLS
		m[0], m[1], m[4] = family, 20, unix.RT_TABLE_MAIN
		buf = appendLabelsAttr(buf, unix.RTA_DST, []int{*r.MPLSDst})
	case r.Dst != nil:
		// The route's family, or where it has none its address's: an
		// IPv6 route to an IPv4-mapped address stays IPv6.
		ip := r.Dst.IP.To16()
		if v4 := ip.To4(); v4 != nil && r.Family != netlink.FAMILY_V6 {
			ip, family = v4, unix.AF_INET
		}
		if ip == nil || r.Family == netlink.FAMILY_V4 && family != unix.AF_INET {
			return buf[:start], fmt.Errorf("destination %v is no IPv4 address", r.Dst)
		}
		ones, bits := r.Dst.Mask.Size()
		if family == unix.AF_INET && bits == 128 {
			ones = max(0, ones-96) // a 16-byte mask: its last 4 bytes
		}
		m[0], m[1] = family, uint8(ones)
		buf = appendAttr(buf, unix.RTA_DST, ip)
	default:
		return buf[:start], ErrNoDestination
	}
	if family != netlink.FAMILY_MPLS {
		if r.Table < 256 {
			buf[start+unix.NLMSG_HDRLEN+4] = uint8(r.Table)
		} else {
			buf[start+unix.NLMSG_HDRLEN+4] = unix.RT_TABLE_UNSPEC
			buf = appendUint32Attr(buf, unix.RTA_TABLE, uint32(r.Table))
		}
	}
	if r.Priority != 0 {
		buf = appendUint32Attr(buf, unix.RTA_PRIORITY, uint32(r.Priority))
	}
	if op.KeyOnly {
		return finish(buf, start), nil
	}
	if r.LinkIndex != 0 {
		buf = appendUint32Attr(buf, unix.RTA_OIF, uint32(r.LinkIndex))
	}
	if r.Gw != nil {
		gw := r.Gw
		if v4 := gw.To4(); v4 != nil && family == unix.AF_INET {
			gw = v4
		}
		buf = appendAttr(buf, unix.RTA_GATEWAY, gw)
	}
	if v, ok := r.Via.(*netlink.Via); ok {
		// struct rtvia: the family, then the address as it is.
		at := len(buf)
		buf = appendAttrHeader(buf, unix.RTA_VIA, 2+len(v.Addr))
		buf = binary.NativeEndian.AppendUint16(buf, uint16(v.AddrFamily))
		buf = pad(append(buf, v.Addr...), at)
	} else if r.Via != nil {
		enc, err := r.Via.Encode()
		if err != nil {
			return buf[:start], err
		}
		buf = appendAttr(buf, unix.RTA_VIA, enc)
	}
	if r.Encap != nil {
		var typ [2]byte
		binary.NativeEndian.PutUint16(typ[:], uint16(r.Encap.Type()))
		buf = appendAttr(buf, unix.RTA_ENCAP_TYPE, typ[:])
		if e, ok := r.Encap.(*netlink.MPLSEncap); ok {
			at := len(buf)
			buf = appendAttrHeader(buf, unix.RTA_ENCAP|unix.NLA_F_NESTED, 4+4*len(e.Labels))
			buf = appendLabelsAttr(buf, nl.MPLS_IPTUNNEL_DST, e.Labels)
			buf = pad(buf, at)
		} else {
			enc, err := r.Encap.Encode()
			if err != nil {
				return buf[:start], err
			}
			buf = appendAttr(buf, unix.RTA_ENCAP|unix.NLA_F_NESTED, enc)
		}
	}
	return finish(buf, start), nil
}

// RouteRequests are op's requests for routes, named by op.Verb and
// key(route) ("10.2.0.0/24 table 1000"). The closures are the only
// allocations: none per route.
func RouteRequests(op Op, routes []*netlink.Route, key func(*netlink.Route) string) Requests {
	return Requests{
		N: len(routes),
		Append: func(buf []byte, i int, seq uint32) ([]byte, error) {
			return AppendRouteMsg(buf, routes[i], op, seq)
		},
		Name: func(i int) string { return op.Verb + " " + key(routes[i]) },
		Done: op.Done,
	}
}
