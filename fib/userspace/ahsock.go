package userspace

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"golang.org/x/sys/unix"
)

// openAH opens the raw socket for protocol 51 (AH, ah.go), bound to
// local, with IP_HDRINCL or IPV6_HDRINCL: the fast path writes the outer
// header itself, since AH's ICV covers it (over IPv4 the kernel fills in
// only the checksum, and an ID of 0 stays 0 with DF). Receiving, an IPv4
// socket hands over every AH packet to local with its IP header; an IPv6
// one from the AH header on, with the sender's address (readAH rebuilds
// the header: inboundAH6). Needs CAP_NET_RAW.
func openAH(local netip.Addr) (*esptransport.Socket, error) {
	network, level, opt := "ip4:51", unix.IPPROTO_IP, unix.IP_HDRINCL
	if local.Is6() {
		network, level, opt = "ip6:51", unix.IPPROTO_IPV6, unix.IPV6_HDRINCL
	}
	ic, err := net.ListenIP(network, &net.IPAddr{IP: net.IP(local.AsSlice())})
	if err != nil {
		return nil, fmt.Errorf("raw AH socket: %w", err)
	}
	rc, err := ic.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), level, opt, 1)
		})
		err = errors.Join(err, cerr)
	}
	if err != nil {
		ic.Close()
		return nil, fmt.Errorf("raw AH socket: header included: %w", err)
	}
	s, err := esptransport.NewSocket(ic, false, local.Is4(), nil)
	if err != nil {
		ic.Close()
		return nil, err
	}
	return s, nil
}

// setLocalAH opens the AH socket for the local address and starts its
// reader, closing the old one. Without it AH tunnels drop what they send
// (counted tx-error) and receive nothing: fail closed. It is not an
// Apply error: a PE with only ESP tunnels does not need it.
func (b *Backend) setLocalAH(local netip.Addr) error {
	if old := b.ahSock.Load(); old != nil && old.local == local {
		return nil
	}
	var next *ahSocket
	if local.IsValid() {
		s, err := openAH(local)
		if err != nil {
			b.log.Warn("cannot open the AH socket; AH tunnels will drop", "local", local, "err", err)
		} else {
			next = &ahSocket{Socket: s, local: local}
		}
	}
	old := b.ahSock.Swap(next)
	if next != nil {
		b.wg.Add(1)
		go b.readAH(next)
	}
	if old != nil {
		return old.Close()
	}
	return nil
}

// ahSocket is the AH socket with the address it is bound to.
type ahSocket struct {
	*esptransport.Socket
	local netip.Addr
}

// sendAH sends the AH packets queued in q and returns how many were lost.
func (b *Backend) sendAH(q *esptransport.SendBatch) int {
	s := b.ahSock.Load()
	if s == nil {
		_, n := q.Messages()
		return n
	}
	return q.SendRaw(s.Socket)
}

// readAH is the AH socket's inbound goroutine: it receives batches until
// the socket is closed, opens each packet (inboundAH, or inboundAH6 on
// an IPv6 socket, which rebuilds the IPv6 header in the ipv6HeaderLen
// bytes before the receive offset) and writes the inner packets to their
// VRFs' TUNs. Per packet it allocates nothing.
func (b *Backend) readAH(s *ahSocket) {
	defer b.wg.Done()
	blk := takeBufs(batchSize, inBufSize+ipv6HeaderLen)
	defer blk.release()
	bufs := blk.bufs
	var m esptransport.Batch
	m.Init(batchSize)
	m.SetBufs(bufs, ahInHeadroom)
	w := newTUNWriter(0)
	v6 := s.local.Is6()
	for {
		n, err := s.RecvMmsg(&m)
		if err != nil {
			var errno unix.Errno
			if errors.As(err, &errno) {
				continue // an ICMP error queued on the socket, say
			}
			return // closed
		}
		for i := range n {
			if m.Truncated(i) {
				b.dp.dropIn(dropMalformed)
				continue
			}
			var v *vrf
			var io, il int
			if v6 {
				v, io, il, _ = b.dp.inboundAH6(bufs[i], ahInHeadroom, m.Len(i), m.From(i).Addr(), s.local)
			} else {
				v, io, il, _ = b.dp.inboundAH(bufs[i], ahInHeadroom, m.Len(i))
			}
			if v != nil {
				w.inPlace(v, 0, bufs[i][io-tunOffset:io+il])
			}
		}
		w.flush()
	}
}

// ahInHeadroom is where the AH reader receives: room for the IPv6 header
// inboundAH6 rebuilds, before inHeadroom.
const ahInHeadroom = inHeadroom + ipv6HeaderLen
