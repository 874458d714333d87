package userspace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// tunDev is a VRF's TUN device, made by this process: the kernel deletes
// it, and every route through it, when the process closes it or dies.
//
// It has one queue per CPU (IFF_MULTI_QUEUE), each read by a goroutine of
// its own: the kernel hands each flow's packets to one queue, chosen by
// the flow's hash, so a VRF's outbound crypto spreads over the cores while
// every flow stays in order, and no packet changes goroutine on the way
// (a hand-over per batch costs more than it saves on small machines: see
// docs/ARCHITECTURE.md). Inbound packets are written to the queue of the
// lane of the SA that opened them (device.queue): the first queue for a
// tunnel of one SA pair.
type tunDev struct {
	name   string
	index  int
	queues []*tunQueue
}

// device boxes t's queues for the fast path (vrf.dev).
func (t *tunDev) device() *device {
	qs := make([]tun.Device, len(t.queues))
	for i, q := range t.queues {
		qs[i] = q
	}
	return &device{Device: qs[0], queues: qs}
}

// tunQueues is how many queues a VRF's TUN gets.
func tunQueues() int { return max(1, runtime.GOMAXPROCS(0)) }

// createTUN makes and brings up a TUN device, each queue a tunQueue that
// reads and writes through a wireguard-go tun.Device while it carries
// traffic (tunqueue.go), with the kernel's offloads on (TSO and checksum,
// so that reads return TCP super-packets split into segments, and writes
// coalesce them again) and batched reads and writes:
//
//	ip tuntap add dev NAME mode tun vnet_hdr multi_queue   (queues queues)
//	ethtool -K NAME tx-checksumming on tso on (and USO where the kernel has it)
//	sysctl -w net.ipv6.conf.NAME.addr_gen_mode=1
//	sysctl -w net.ipv6.conf.NAME.forwarding=0
//	sysctl -w net.ipv4.conf.NAME.accept_local=1
//	tc qdisc replace dev NAME root noqueue
//	ip link set dev NAME mtu MTU up
//
// No IPv6 link-local address: nothing of the host's own should leave
// through a VRF's TUN (router solicitations, MLD), only forwarded packets.
// Nor the router's side of IPv6 on it: with forwarding on, the interface
// joins the all-routers group and sends MLD reports, which would wake an
// idle queue and make its tun.Device (tunqueue.go) for every new VRF.
// That flag is the interface's host or router behaviour only: the kernel
// forwards IPv6 by net.ipv6.conf.all.forwarding (ip6_forward), which
// enableForwarding sets, before the TUNs are made, since setting it
// sets every interface's.
// noqueue: a multi-queue TUN has 256 transmit queues, and bringing it up
// would give each a default qdisc (mq, then pfifo_fast with three rings
// of 500 each): kernel memory, and 7 ms per VRF here (200 TUNs in 1.6 s,
// 0.15 s with noqueue), for nothing,
// since the TUN never stops a queue (a full ring drops in tun_net_xmit),
// so no packet ever waits in a qdisc.
// accept_local: the fast path's ICMP errors (toobig.go) come from the PE's
// own address in the VRF, which IPv4 otherwise drops as a martian source.
func createTUN(h *netlink.Handle, name string, mtu, queues int) (*tunDev, error) {
	t := &tunDev{name: name}
	for range queues {
		q, err := openQueue(name)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("creating TUN %s: %w", name, err)
		}
		t.queues = append(t.queues, q)
	}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/addr_gen_mode", []byte("1\n"), 0o644)
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/force_mld_version", []byte("1\n"), 0o644)
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/forwarding", []byte("0\n"), 0o644)
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/accept_local", []byte("1\n"), 0o644)
	link, err := h.LinkByName(name)
	if err == nil {
		t.index = link.Attrs().Index
		// An error leaves the default qdiscs: slower to make, the same
		// to forward through.
		_ = h.QdiscReplace(&netlink.GenericQdisc{QdiscType: "noqueue",
			QdiscAttrs: netlink.QdiscAttrs{LinkIndex: t.index, Parent: netlink.HANDLE_ROOT}})
		if err = h.LinkSetMTU(link, mtu); err == nil {
			err = h.LinkSetUp(link)
		}
	}
	if err != nil {
		t.close()
		return nil, fmt.Errorf("bringing TUN %s up: %w", name, err)
	}
	return t, nil
}

// openQueue opens one queue of TUN name (creating the device with the
// first) as tun.CreateTUN does, with IFF_MULTI_QUEUE added, and turns on
// the device's offloads as wireguard-go does (TUNSETOFFLOAD: TCP always,
// UDP where the kernel has it, 6.2 and later), so that the queue's
// tun.Device, made when traffic comes, finds them on. The queue is
// unmonitored: tun.CreateTUNFromFile would give each queue a netlink
// socket and a listener blocked in poll(2), an OS thread per queue, to
// report link events nobody here reads. createTUN sets the MTU instead.
func openQueue(name string) (*tunQueue, error) {
	fd, err := openTUNFD(name, unix.IFF_TUN|unix.IFF_NO_PI|unix.IFF_VNET_HDR|unix.IFF_MULTI_QUEUE)
	if err != nil {
		return nil, err
	}
	if unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunTCPOffloads|tunUDPOffloads) != nil {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunTCPOffloads); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("TUNSETOFFLOAD: %w", err)
		}
	}
	return &tunQueue{name: name, file: os.NewFile(uintptr(fd), "/dev/net/tun")}, nil
}

// The offloads wireguard-go's tun.Device turns on, the same, so that
// making one changes nothing.
const (
	tunTCPOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	tunUDPOffloads = unix.TUN_F_USO4 | unix.TUN_F_USO6
)

// openTUNFile attaches a non-blocking file to TUN device name with flags
// (TUNSETIFF), creating the device if it does not exist. Non-blocking, a
// reader parks in Go's netpoller and Close wakes it.
func openTUNFile(name string, flags uint16) (*os.File, error) {
	fd, err := openTUNFD(name, flags)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// openTUNFD is openTUNFile's file descriptor.
func openTUNFD(name string, flags uint16) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(flags)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (t *tunDev) close() error {
	var errs []error
	for _, q := range t.queues {
		if err := q.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing TUN %s: %w", t.name, err))
		}
	}
	return errors.Join(errs...)
}

// closeTUNs closes tuns, closeConcurrency at a time. Closing a TUN queue
// waits for an RCU grace period in the kernel (tun_detach,
// synchronize_net): 19 ms per two-queue TUN here, so a daemon with 2,000
// VRFs took 40 s to stop one TUN after another. The waits overlap.
func closeTUNs(tuns []*tunDev) error {
	errs := make([]error, len(tuns))
	sem := make(chan struct{}, closeConcurrency)
	var wg sync.WaitGroup
	for i, t := range tuns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.close()
			<-sem
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeConcurrency bounds closeTUNs's goroutines, each in a close(2)
// holding an OS thread: 64 close 200 TUNs in a quarter of a second,
// 256 no faster.
const closeConcurrency = 64
