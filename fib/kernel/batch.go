package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// batchSize is how many route requests go to the kernel in one write
// before their acknowledgements are read. vishvananda/netlink waits for
// each request's ACK, one round trip per route; writing a batch and then
// reading its ACKs costs one round trip per batch, which is what makes a
// million-route VRF installable in reasonable time (make bench-vm).
const batchSize = 256

// replaceRoutes installs routes with RTM_NEWROUTE (create or replace),
// batchSize requests per write, and returns every route the kernel
// refused, named.
func (b *Backend) replaceRoutes(routes []*netlink.Route) error {
	if len(routes) == 0 {
		return nil
	}
	var fd int
	open := func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}
	if err := b.inNS(open); err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	var errs []error
	rbuf := make([]byte, 1<<16)
	for start := 0; start < len(routes); start += batchSize {
		chunk := routes[start:min(start+batchSize, len(routes))]
		var out []byte
		for i, r := range chunk {
			msg, err := encodeRoute(r, uint32(i+1))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", routeKey(r), err))
				continue
			}
			out = append(out, msg...)
		}
		if err := unix.Sendto(fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return errors.Join(append(errs, fmt.Errorf("netlink write: %w", err))...)
		}
		for acked := 0; acked < len(chunk); {
			n, _, err := unix.Recvfrom(fd, rbuf, 0)
			if err != nil {
				return errors.Join(append(errs, fmt.Errorf("netlink read: %w", err))...)
			}
			msgs, err := syscall.ParseNetlinkMessage(rbuf[:n])
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			for _, m := range msgs {
				if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
					continue
				}
				acked++
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
					i := int(m.Header.Seq) - 1
					name := "?"
					if i >= 0 && i < len(chunk) {
						name = routeKey(chunk[i])
					}
					errs = append(errs, fmt.Errorf("ip route replace %s: %w", name, syscall.Errno(-code)))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// encodeRoute is the RTM_NEWROUTE request for r: the shapes this backend
// makes (unicast via an interface, with a gateway, an MPLS via or an MPLS
// encap; unreachable; MPLS label routes).
func encodeRoute(r *netlink.Route, seq uint32) ([]byte, error) {
	req := nl.NewNetlinkRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	req.Seq = seq
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
