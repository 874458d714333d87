package userspace

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"golang.org/x/sys/unix"
)

// openAH opens the raw IPv4 socket for protocol 51 (AH, ah.go), bound to
// local, with IP_HDRINCL: the fast path writes the outer header itself,
// since AH's ICV covers it (the kernel fills in only the checksum, and an
// ID of 0 stays 0 with DF). Receiving, the kernel hands over every AH
// packet to local with its IP header. Needs CAP_NET_RAW. IPv6 has no such
// socket that delivers the header, so AH tunnels need an IPv4 address
// (the configuration says so).
func openAH(local netip.Addr) (*esptransport.Socket, error) {
	if !local.Is4() {
		return nil, fmt.Errorf("AH socket: %s is not IPv4", local)
	}
	ic, err := net.ListenIP("ip4:51", &net.IPAddr{IP: net.IP(local.AsSlice())})
	if err != nil {
		return nil, fmt.Errorf("raw AH socket: %w", err)
	}
	rc, err := ic.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_HDRINCL, 1)
		})
		err = errors.Join(err, cerr)
	}
	if err != nil {
		ic.Close()
		return nil, fmt.Errorf("raw AH socket: IP_HDRINCL: %w", err)
	}
	s, err := esptransport.NewSocket(ic, false, true, nil)
	if err != nil {
		ic.Close()
		return nil, err
	}
	return s, nil
}

// setLocalAH opens the AH socket for an IPv4 local address and starts its
// reader, closing the old one. Without it AH tunnels drop what they send
// (counted tx-error) and receive nothing: fail closed. It is not an
// Apply error: a PE with only ESP tunnels does not need it.
func (b *Backend) setLocalAH(local netip.Addr) error {
	if old := b.ahSock.Load(); old != nil && old.local == local {
		return nil
	}
	var next *ahSocket
	if local.Is4() {
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
		go b.readAH(next.Socket)
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
// the socket is closed, opens each packet (inboundAH) and writes the
// inner packets to their VRFs' TUNs. Per packet it allocates nothing.
func (b *Backend) readAH(s *esptransport.Socket) {
	defer b.wg.Done()
	bufs := newBufs(batchSize, inBufSize)
	var m esptransport.Batch
	m.Init(batchSize)
	m.SetBufs(bufs, inHeadroom)
	w := newTUNWriter(0)
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
			v, io, il, _ := b.dp.inboundAH(bufs[i], inHeadroom, m.Len(i))
			if v != nil {
				w.inPlace(v, bufs[i][io-tunOffset:io+il])
			}
		}
		w.flush()
	}
}
