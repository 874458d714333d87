package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// oracleRouteMsg is op's request for r built with vishvananda/netlink's
// request builder (nl.NetlinkRequest, nl.RtMsg, nl.RtAttr): the encoder
// this package used before nlbatch.AppendRouteMsg, kept as its oracle.
func oracleRouteMsg(r *netlink.Route, op nlbatch.Op, seq uint32) ([]byte, error) {
	req := nl.NewNetlinkRequest(int(op.Type), int(op.Flags)|unix.NLM_F_ACK)
	req.Seq = seq
	msg := nl.NewRtMsg()
	msg.Protocol = uint8(r.Protocol)
	msg.Scope = uint8(r.Scope)
	msg.Type = unix.RTN_UNICAST
	if r.Type != 0 {
		msg.Type = uint8(r.Type)
	}
	msg.Flags = uint32(r.Flags)
	if op.KeyOnly { // ip route del: any scope, no flags, no next hop
		msg.Scope, msg.Flags = unix.RT_SCOPE_NOWHERE, 0
		if r.Family == netlink.FAMILY_MPLS {
			msg.Scope = unix.RT_SCOPE_UNIVERSE
		}
	}
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
		return nil, errors.New("route without a destination")
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
	if op.KeyOnly {
		r = &netlink.Route{}
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

// encodeCases are the route shapes translate makes, and two it refuses.
func encodeCases() map[string]*netlink.Route {
	label := 100
	_, v4, _ := net.ParseCIDR("10.2.0.0/24")
	_, v6, _ := net.ParseCIDR("2001:db8:2::/64")
	_, host, _ := net.ParseCIDR("10.0.0.7/32")
	return map[string]*netlink.Route{
		"over core": {Table: 1000, Protocol: RTProto, Family: netlink.FAMILY_V4, Dst: v4, LinkIndex: 3,
			Gw: net.ParseIP("192.168.0.2"), Encap: &netlink.MPLSEncap{Labels: []int{100}}},
		"label stack": {Table: 1000, Protocol: RTProto, Family: netlink.FAMILY_V4, Dst: host, LinkIndex: 3,
			Gw: net.ParseIP("192.168.0.2").To4(), Encap: &netlink.MPLSEncap{Labels: []int{16, 1048575, 3}}},
		"6VPE": {Table: 1000, Protocol: RTProto, Family: netlink.FAMILY_V6, Dst: v6, LinkIndex: 3,
			Gw: net.ParseIP("::ffff:192.168.0.2"), Flags: int(netlink.FLAG_ONLINK), Encap: &netlink.MPLSEncap{Labels: []int{200}}},
		"cross-family via": {Table: 1000, Protocol: RTProto, Family: netlink.FAMILY_V4, Dst: v4, LinkIndex: 3,
			Via: via(net.ParseIP("2001:db8::1")), Encap: &netlink.MPLSEncap{Labels: []int{100}}},
		"into ESP TUN": {Table: 1000, Protocol: RTProto, Family: netlink.FAMILY_V6, Dst: v6, LinkIndex: 9,
			Scope: netlink.SCOPE_LINK, Encap: &netlink.MPLSEncap{Labels: []int{100}}},
		"to CE": {Table: 7, Protocol: RTProto, Family: netlink.FAMILY_V4, Dst: v4, LinkIndex: 4, Scope: netlink.SCOPE_LINK},
		"unreachable default": {Table: 1000, Family: netlink.FAMILY_V6, Type: unix.RTN_UNREACHABLE, Priority: 4278198272,
			Protocol: RTProto, Dst: defaultDst(netlink.FAMILY_V6)},
		"blackhole": {Table: 1000, Protocol: RTProto, Family: netlink.FAMILY_V4, Dst: v4, Type: unix.RTN_BLACKHOLE},
		"label pop": {Family: netlink.FAMILY_MPLS, MPLSDst: &label, Protocol: RTProto, LinkIndex: 5},
		"label swap via": {Family: netlink.FAMILY_MPLS, MPLSDst: &label, Protocol: RTProto, LinkIndex: 5,
			Via: via(net.ParseIP("192.168.0.2"))},
		"no destination":        {Table: 1000, Protocol: RTProto, LinkIndex: 3},
		"label without a label": {Family: netlink.FAMILY_MPLS, Protocol: RTProto},
	}
}

// TestAppendRouteMsgMatchesVishvananda: every shape this backend makes
// encodes (nlbatch.AppendRouteMsg) to the bytes vishvananda/netlink's
// builder makes, for both operations, and what that builder refuses
// AppendRouteMsg refuses, leaving the buffer as it was.
func TestAppendRouteMsgMatchesVishvananda(t *testing.T) {
	for name, r := range encodeCases() {
		for _, op := range []nlbatch.Op{nlbatch.ReplaceRoute, nlbatch.DeleteRoute} {
			want, werr := oracleRouteMsg(r, op, 42)
			prefix := []byte{0xde, 0xad, 0xbe, 0xef}
			got, gerr := nlbatch.AppendRouteMsg(bytes.Clone(prefix), r, op, 42)
			if (werr != nil) != (gerr != nil) {
				t.Errorf("%s %s: error %v, the oracle's %v", name, op.Verb, gerr, werr)
				continue
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Errorf("%s %s: the buffer's first bytes changed", name, op.Verb)
				continue
			}
			got = got[len(prefix):]
			if gerr != nil {
				if len(got) != 0 {
					t.Errorf("%s %s: %d bytes left after the error %v", name, op.Verb, len(got), gerr)
				}
				continue
			}
			// The oracle asks for an ACK on every request, the
			// batch writer on a batch's last only.
			binary.NativeEndian.PutUint16(got[6:], binary.NativeEndian.Uint16(got[6:])|unix.NLM_F_ACK)
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s:\n got % x\nwant % x", name, op.Verb, got, want)
			}
		}
	}
}
