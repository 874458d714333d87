package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// listRoutes is `ip route show table all proto 204` for IPv4, IPv6 and
// MPLS: the routes this backend owns, read with one dump per family that
// the kernel filters by protocol (NETLINK_GET_STRICT_CHK; where the
// kernel cannot, the filter runs here too) and parsed by parseRouteMsg
// into what routeKey, sameRoute and nlbatch.AppendRouteMsg use, nothing more.
// vishvananda/netlink's RouteListFiltered parses every route of every
// table in full first: with 100,000 routes that is most of a withdrawal
// (make bench-vm). A dump the kernel marks interrupted (the tables
// changed under it) is read again. A family that cannot be read is an
// error, and none of its routes is returned: the caller deletes none.
// sizeHint is how many routes to make room for at first.
func (b *Backend) listRoutes(sizeHint int) ([]netlink.Route, error) {
	var fd int
	open := func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}
	if err := b.inNS(open); err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	d := &routeDump{fd: fd, rbuf: make([]byte, 1<<16), routes: make([]netlink.Route, 0, sizeHint+16)}
	var errs []error
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6, unix.AF_MPLS} {
		var err error
		for range 5 {
			if err = d.dump(fam); !errors.Is(err, errDumpInterrupted) {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listing routes of family %d: %w", fam, err))
		}
	}
	return d.routes, errors.Join(errs...)
}

var errDumpInterrupted = errors.New("dump interrupted: the routes changed while being read")

// routeDump is one listRoutes' socket and what it has read.
type routeDump struct {
	fd     int
	seq    uint32
	rbuf   []byte
	routes []netlink.Route
	a      routeArena
}

// dump reads family fam's routes of protocol RTProto into d.routes; on
// an error it leaves d.routes as it was.
func (d *routeDump) dump(fam uint8) error {
	d.seq++
	var req [unix.NLMSG_HDRLEN + unix.SizeofRtMsg]byte
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETROUTE)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], d.seq)
	req[unix.NLMSG_HDRLEN] = fam
	req[unix.NLMSG_HDRLEN+5] = RTProto // rtm_protocol: the kernel's filter
	if err := unix.Sendto(d.fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink write: %w", err)
	}
	kept := len(d.routes)
	var interrupted bool
	for {
		n, _, err := unix.Recvfrom(d.fd, d.rbuf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			d.routes = d.routes[:kept]
			return fmt.Errorf("netlink read: %w", err)
		}
		for msg := d.rbuf[:n]; len(msg) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(msg))
			if l < unix.NLMSG_HDRLEN || l > len(msg) {
				d.routes = d.routes[:kept]
				return fmt.Errorf("netlink read: a message of %d bytes in %d", l, len(msg))
			}
			m := msg[:l]
			msg = msg[min(nlbatch.Align(l), len(msg)):]
			if binary.NativeEndian.Uint32(m[8:]) != d.seq {
				continue // not this dump's
			}
			interrupted = interrupted || binary.NativeEndian.Uint16(m[6:])&unix.NLM_F_DUMP_INTR != 0
			switch binary.NativeEndian.Uint16(m[4:]) {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				if len(m) >= unix.NLMSG_HDRLEN+4 {
					if code := int32(binary.NativeEndian.Uint32(m[unix.NLMSG_HDRLEN:])); code != 0 {
						d.routes = d.routes[:kept]
						return fmt.Errorf("netlink dump: %w", unix.Errno(-code))
					}
				}
				if interrupted {
					d.routes = d.routes[:kept]
					return errDumpInterrupted
				}
				return nil
			case unix.RTM_NEWROUTE:
				if len(m) > unix.NLMSG_HDRLEN && m[unix.NLMSG_HDRLEN] != fam {
					continue // a kernel without fam's routes answers with every family's
				}
				// Parsed in place: a route is 376 bytes to copy.
				d.routes = append(d.routes, netlink.Route{})
				ours, err := parseRouteMsg(m, &d.routes[len(d.routes)-1], &d.a)
				if err != nil {
					d.routes = d.routes[:kept]
					return err
				}
				if !ours {
					d.routes = d.routes[:len(d.routes)-1]
				}
			}
		}
	}
}

// parseRouteMsg reads an RTM_NEWROUTE message m of a dump into r: the
// fields nlbatch.AppendRouteMsg writes (family, table, destination or label,
// metric, type, protocol, scope, flags, interface, gateway, via, MPLS
// encap), its addresses and labels carved from a. It reports whether the
// route is one of ours (protocol RTProto, not a cached clone); a
// malformed message is an error, never a panic (FuzzParseRouteMsg).
func parseRouteMsg(m []byte, r *netlink.Route, a *routeArena) (ours bool, err error) {
	const hdr = unix.NLMSG_HDRLEN + unix.SizeofRtMsg
	if len(m) < hdr {
		return false, fmt.Errorf("a route message of %d bytes", len(m))
	}
	rt := m[unix.NLMSG_HDRLEN:]
	family, dstLen := rt[0], int(rt[1])
	flags := binary.NativeEndian.Uint32(rt[8:])
	*r = netlink.Route{Family: int(family), Table: int(rt[4]), Protocol: netlink.RouteProtocol(rt[5]),
		Scope: netlink.Scope(rt[6]), Type: int(rt[7]), Flags: int(flags)}
	if r.Protocol != RTProto || flags&unix.RTM_F_CLONED != 0 {
		return false, nil
	}
	var encapType uint16
	var encap []byte
	for attrs := m[hdr:]; len(attrs) >= unix.SizeofRtAttr; {
		l := int(binary.NativeEndian.Uint16(attrs))
		if l < unix.SizeofRtAttr || l > len(attrs) {
			return false, fmt.Errorf("route attribute of %d bytes in %d", l, len(attrs))
		}
		typ, v := binary.NativeEndian.Uint16(attrs[2:])&nl.NLA_TYPE_MASK, attrs[unix.SizeofRtAttr:l]
		attrs = attrs[min(nlbatch.Align(l), len(attrs)):]
		switch typ {
		case unix.RTA_TABLE, unix.RTA_PRIORITY, unix.RTA_OIF:
			if len(v) != 4 {
				return false, fmt.Errorf("route attribute %d of %d bytes", typ, len(v))
			}
			n := int(binary.NativeEndian.Uint32(v))
			switch typ {
			case unix.RTA_TABLE:
				r.Table = n
			case unix.RTA_PRIORITY:
				r.Priority = n
			default:
				r.LinkIndex = n
			}
		case unix.RTA_DST:
			if family == netlink.FAMILY_MPLS {
				if len(v) != 4 {
					return false, fmt.Errorf("MPLS route destination of %d bytes", len(v))
				}
				label := a.ints(1)
				label[0] = int(binary.BigEndian.Uint32(v) >> nl.MPLS_LS_LABEL_SHIFT)
				r.MPLSDst = &label[0]
				continue
			}
			ip, err := a.ip(v, family)
			if err != nil {
				return false, fmt.Errorf("route destination: %w", err)
			}
			if dstLen > 8*len(ip) {
				return false, fmt.Errorf("route destination /%d of %d bytes", dstLen, len(ip))
			}
			r.Dst = a.ipNet(ip, dstLen)
		case unix.RTA_GATEWAY:
			ip, err := a.ip(v, family)
			if err != nil {
				return false, fmt.Errorf("route gateway: %w", err)
			}
			r.Gw = ip
		case unix.RTA_VIA:
			if len(v) < 2 {
				return false, errors.New("route via of less than 2 bytes")
			}
			fam := binary.NativeEndian.Uint16(v)
			ip, err := a.ip(v[2:], uint8(fam))
			if err != nil || fam > 255 {
				ip = append(net.IP(nil), v[2:]...) // a link-layer via: as it is
			}
			r.Via = &netlink.Via{AddrFamily: int(fam), Addr: ip}
		case unix.RTA_ENCAP_TYPE:
			if len(v) != 2 {
				return false, fmt.Errorf("route encap type of %d bytes", len(v))
			}
			encapType = binary.NativeEndian.Uint16(v)
		case unix.RTA_ENCAP:
			encap = v
		}
	}
	if r.Dst == nil && family != netlink.FAMILY_MPLS {
		if family != unix.AF_INET && family != unix.AF_INET6 {
			return false, fmt.Errorf("route of family %d", family)
		}
		r.Dst = defaultDst(int(family)) // the kernel leaves a default route's RTA_DST out
	}
	if family == netlink.FAMILY_MPLS && r.MPLSDst == nil {
		return false, errors.New("MPLS route without a label")
	}
	if encap != nil {
		r.Encap, err = parseEncap(encapType, encap, a)
	}
	return err == nil, err
}

// parseEncap reads an RTA_ENCAP of type typ: an MPLS label stack
// (MPLS_IPTUNNEL_DST), or an encap this backend does not make, kept as
// bytes so that it never compares equal to one it does.
func parseEncap(typ uint16, v []byte, a *routeArena) (netlink.Encap, error) {
	if typ != nl.LWTUNNEL_ENCAP_MPLS {
		return &otherEncap{typ: int(typ), value: append([]byte(nil), v...)}, nil
	}
	for attrs := v; len(attrs) >= unix.SizeofRtAttr; {
		l := int(binary.NativeEndian.Uint16(attrs))
		if l < unix.SizeofRtAttr || l > len(attrs) {
			return nil, fmt.Errorf("MPLS encap attribute of %d bytes in %d", l, len(attrs))
		}
		typ, s := binary.NativeEndian.Uint16(attrs[2:])&nl.NLA_TYPE_MASK, attrs[unix.SizeofRtAttr:l]
		attrs = attrs[min(nlbatch.Align(l), len(attrs)):]
		if typ != nl.MPLS_IPTUNNEL_DST {
			continue
		}
		if len(s) == 0 || len(s)%4 != 0 {
			return nil, fmt.Errorf("MPLS encap label stack of %d bytes", len(s))
		}
		labels := a.ints(len(s) / 4)
		for i := range labels {
			labels[i] = int(binary.BigEndian.Uint32(s[4*i:]) >> nl.MPLS_LS_LABEL_SHIFT)
		}
		return &netlink.MPLSEncap{Labels: labels}, nil
	}
	return nil, errors.New("MPLS encap without a label stack")
}

// otherEncap is an encap other than MPLS, as the kernel gave it.
type otherEncap struct {
	typ   int
	value []byte
}

func (e *otherEncap) Type() int                  { return e.typ }
func (e *otherEncap) Decode(v []byte) error      { e.value = append(e.value[:0], v...); return nil }
func (e *otherEncap) Encode() ([]byte, error)    { return e.value, nil }
func (e *otherEncap) String() string             { return fmt.Sprintf("encap type %d % x", e.typ, e.value) }
func (e *otherEncap) Equal(x netlink.Encap) bool { return x != nil && x.String() == e.String() }

var _ netlink.Encap = (*otherEncap)(nil)
