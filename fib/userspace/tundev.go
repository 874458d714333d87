package userspace

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/tun"
)

// tunDev is a VRF's TUN device, made by this process: the kernel deletes
// it, and every route through it, when the process closes it or dies.
type tunDev struct {
	name  string
	index int
	dev   tun.Device
}

// createTUN makes and brings up a TUN device with wireguard-go's tun
// package, which turns on the kernel's offloads (TSO and checksum, so that
// reads return TCP super-packets split into segments, and writes coalesce
// them again) and batches reads and writes:
//
//	ip tuntap add dev NAME mode tun vnet_hdr
//	sysctl -w net.ipv6.conf.NAME.addr_gen_mode=1
//	sysctl -w net.ipv4.conf.NAME.accept_local=1
//	ip link set dev NAME mtu MTU up
//
// No IPv6 link-local address: nothing of the host's own should leave
// through a VRF's TUN (router solicitations, MLD), only forwarded packets.
// accept_local: the fast path's ICMP errors (toobig.go) come from the PE's
// own address in the VRF, which IPv4 otherwise drops as a martian source.
func createTUN(h *netlink.Handle, name string, mtu int) (*tunDev, error) {
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("creating TUN %s: %w", name, err)
	}
	go func() {
		for range dev.Events() { // the device blocks if nobody reads them
		}
	}()
	t := &tunDev{name: name, dev: dev}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/addr_gen_mode", []byte("1\n"), 0o644)
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/accept_local", []byte("1\n"), 0o644)
	link, err := h.LinkByName(name)
	if err == nil {
		t.index = link.Attrs().Index
		err = h.LinkSetUp(link)
	}
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("bringing TUN %s up: %w", name, err)
	}
	return t, nil
}

func (t *tunDev) close() error {
	if err := t.dev.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("closing TUN %s: %w", t.name, err)
	}
	return nil
}
