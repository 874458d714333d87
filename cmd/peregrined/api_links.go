package main

import (
	"net"
	"net/netip"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// hostLinks is one read of the host's links and addresses, from which
// /v1/interfaces describes every interface it lists. netlink's AddrList
// for one link dumps every address of the host and keeps that link's,
// so reading per interface made `peregrine show interfaces` at 2,000
// VRFs (6,000 links, as many addresses) parse some 36 million address
// messages, and it ran past the CLI's 10 s timeout (issue 23).
type hostLinks struct {
	byName map[string]netlink.Link
	addrs  map[int][]netip.Prefix // by link index
}

// readHostLinks dumps the links and addresses once, each tried up to
// three times while the kernel reports it interrupted (a result still
// interrupted is shown as read). What it cannot read shows as missing,
// as before: a listing is no reason to fail.
func readHostLinks() hostLinks {
	h := hostLinks{byName: map[string]netlink.Link{}, addrs: map[int][]netip.Prefix{}}
	links, _ := fib.RetryDump(3, netlink.LinkList)
	for _, l := range links {
		h.byName[l.Attrs().Name] = l
	}
	addrs, _ := fib.RetryDump(3, func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_ALL) })
	for _, ad := range addrs {
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok || ad.IPNet == nil {
			continue
		}
		ones, _ := ad.Mask.Size()
		h.addrs[ad.LinkIndex] = append(h.addrs[ad.LinkIndex], netip.PrefixFrom(ip.Unmap(), ones))
	}
	return h
}

// info describes the interface name: its state, MTU and addresses; one
// that does not exist shows as "missing".
func (h hostLinks) info(name, vrf, kind string) localapi.Interface {
	ifc := localapi.Interface{Name: name, VRF: vrf, Kind: kind, State: "missing", Addresses: []netip.Prefix{}}
	link, ok := h.byName[name]
	if !ok {
		return ifc
	}
	attrs := link.Attrs()
	ifc.MTU = attrs.MTU
	ifc.State = "down"
	if attrs.Flags&net.FlagUp != 0 {
		ifc.State = "up"
		if attrs.OperState == netlink.OperDown || attrs.OperState == netlink.OperLowerLayerDown {
			ifc.State = "up, no carrier"
		}
	}
	ifc.Addresses = append(ifc.Addresses, h.addrs[attrs.Index]...)
	return ifc
}

// links reads the host's links for one listing.
func (dp *dataplane) links() hostLinks {
	if dp.readLinks != nil {
		return dp.readLinks()
	}
	return readHostLinks()
}
