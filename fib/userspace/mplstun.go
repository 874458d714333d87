package userspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// mplsTUN is a TUN device that carries MPLS packets, for the Gateway. It is
// opened with the packet information header (no IFF_NO_PI): each packet
// read or written is preceded by 4 bytes, flags and an EtherType, and that
// EtherType is what lets the kernel take a label stack from a write (a
// TUN without the header guesses IPv4 or IPv6 from the first nibble and
// drops anything else) and tells a reader that a packet is MPLS.
//
//	ip tuntap add dev NAME mode tun          (with pi)
//	sysctl -w net.ipv6.conf.NAME.addr_gen_mode=1
//	ip link set dev NAME mtu MTU up
//
// It implements tun.Device so that the socket readers' tunWriter writes
// opened packets to it as to a VRF's TUN; it reads and writes one packet
// per system call.
type mplsTUN struct {
	name string
	f    *os.File // from openTUNFile
	mtu  int
}

var _ tun.Device = (*mplsTUN)(nil)

// piLen is the size of the packet information header, struct tun_pi.
const piLen = 4

// etherTypeMPLS is the unicast MPLS EtherType (RFC 5332).
const etherTypeMPLS = 0x8847

func openMPLSTUN(h *netlink.Handle, name string, mtu int) (*mplsTUN, error) {
	return openMPLSTUNFlags(h, name, mtu, unix.IFF_TUN)
}

// openMPLSTUNQueues opens TUN name with n queues (IFF_MULTI_QUEUE, n at
// least 1): the kernel keeps each flow on one queue, and a reader per
// queue spreads the sealing over the cores.
func openMPLSTUNQueues(h *netlink.Handle, name string, mtu, n int) ([]*mplsTUN, error) {
	const flags = unix.IFF_TUN | unix.IFF_MULTI_QUEUE
	first, err := openMPLSTUNFlags(h, name, mtu, flags)
	if err != nil {
		return nil, err
	}
	queues := []*mplsTUN{first}
	for range n - 1 {
		f, err := openTUNFile(name, flags)
		if err != nil {
			for _, q := range queues {
				q.Close()
			}
			return nil, fmt.Errorf("opening a queue of TUN %s: %w", name, err)
		}
		queues = append(queues, &mplsTUN{name: name, f: f, mtu: mtu})
	}
	return queues, nil
}

func openMPLSTUNFlags(h *netlink.Handle, name string, mtu int, flags uint16) (*mplsTUN, error) {
	f, err := openTUNFile(name, flags)
	if err != nil {
		return nil, fmt.Errorf("creating TUN %s: %w", name, err)
	}
	t := &mplsTUN{name: name, f: f, mtu: mtu}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/addr_gen_mode", []byte("1\n"), 0o644)
	link, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetMTU(link, mtu)
	}
	if err == nil {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		t.f.Close()
		return nil, fmt.Errorf("bringing TUN %s up: %w", name, err)
	}
	return t, nil
}

// Read reads one packet into bufs[0][offset:], its packet information
// header into the 4 bytes in front (isMPLS reads it).
func (t *mplsTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if offset < piLen {
		return 0, errors.New("mpls TUN: offset leaves no room for the packet information")
	}
	n, err := t.f.Read(bufs[0][offset-piLen:])
	if err != nil {
		return 0, err
	}
	if n < piLen {
		sizes[0] = 0
		return 1, nil
	}
	sizes[0] = n - piLen
	return 1, nil
}

// isMPLS reports whether the packet Read put at buf[off:] is MPLS.
func isMPLS(buf []byte, off int) bool {
	return off >= piLen && binary.BigEndian.Uint16(buf[off-2:off]) == etherTypeMPLS
}

// Write writes each bufs[i][offset:] as an MPLS packet, the packet
// information header in the 4 bytes in front.
func (t *mplsTUN) Write(bufs [][]byte, offset int) (int, error) {
	if offset < piLen {
		return 0, errors.New("mpls TUN: offset leaves no room for the packet information")
	}
	for i, b := range bufs {
		pi := b[offset-piLen : offset]
		pi[0], pi[1] = 0, 0
		binary.BigEndian.PutUint16(pi[2:], etherTypeMPLS)
		if _, err := t.f.Write(b[offset-piLen:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

func (t *mplsTUN) File() *os.File           { return t.f }
func (t *mplsTUN) MTU() (int, error)        { return t.mtu, nil }
func (t *mplsTUN) Name() (string, error)    { return t.name, nil }
func (t *mplsTUN) Events() <-chan tun.Event { return nil }
func (t *mplsTUN) BatchSize() int           { return 1 }

// Close closes the device; the kernel deletes it and its routes.
func (t *mplsTUN) Close() error {
	if err := t.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("closing TUN %s: %w", t.name, err)
	}
	return nil
}
