package kernel

import (
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
)

// linkAPI is the part of *netlink.Handle the VRF device step uses: host
// tests count its requests with a fake.
type linkAPI interface {
	LinkByName(name string) (netlink.Link, error)
	LinkList() ([]netlink.Link, error)
	LinkAdd(l netlink.Link) error
	LinkDel(l netlink.Link) error
	LinkSetUp(l netlink.Link) error
	LinkSetMasterByIndex(l netlink.Link, master int) error
}

var _ linkAPI = (*netlink.Handle)(nil)

// vrfDevices makes (or finds) each VRF's device and enslaves its
// interfaces to it: devs maps a VRF to its device's index, enslaved
// names every interface a VRF lists. It reads the links with one dump
// and then sends requests only for what differs (a device to make or
// bring up, an interface to enslave): a reload adding one VRF to 2,000
// sent three requests for each VRF already up.
func (b *Backend) vrfDevices(la linkAPI, s *fib.State) (devs map[string]int, enslaved map[string]bool, errs []error) {
	links := linkSnapshot{la: la, byName: map[string]netlink.Link{}}
	if all, err := la.LinkList(); err == nil {
		for _, l := range all {
			links.byName[l.Attrs().Name] = l
		}
	} // else each link is asked for by name
	devs = map[string]int{} // VRF -> VRF device index
	enslaved = map[string]bool{}
	for name, v := range s.VRFs {
		idx, err := vrfDevice(links, name, v.Table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devs[name] = idx
		for _, ifn := range v.Interfaces {
			enslaved[ifn] = true
			if err := b.enslave(links, ifn, idx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return devs, enslaved, errs
}

// linkSnapshot is the links as one dump found them, asking the kernel by
// name for one the dump did not have.
type linkSnapshot struct {
	la     linkAPI
	byName map[string]netlink.Link
}

func (ls linkSnapshot) link(name string) (netlink.Link, error) {
	if l, ok := ls.byName[name]; ok {
		return l, nil
	}
	return ls.la.LinkByName(name)
}

// vrfDevice makes (or finds) VRF name's device with table and brings it
// up (if it is down).
func vrfDevice(ls linkSnapshot, name string, table uint32) (int, error) {
	la := ls.la
	dev := fib.VRFDevice(name)
	if l, err := ls.link(dev); err == nil {
		if v, ok := l.(*netlink.Vrf); !ok || v.Table != table {
			if err := la.LinkDel(l); err != nil {
				return 0, fmt.Errorf("vrf %s: replacing %s: %w", name, dev, err)
			}
		} else {
			if l.Attrs().Flags&net.FlagUp != 0 {
				return l.Attrs().Index, nil
			}
			return l.Attrs().Index, la.LinkSetUp(l)
		}
	}
	l := &netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: dev}, Table: table}
	if err := la.LinkAdd(l); err != nil {
		return 0, fmt.Errorf("vrf %s: ip link add %s type vrf table %d: %w", name, dev, table, err)
	}
	nl, err := la.LinkByName(dev)
	if err != nil {
		return 0, err
	}
	return nl.Attrs().Index, la.LinkSetUp(nl)
}

func (b *Backend) enslave(ls linkSnapshot, ifn string, master int) error {
	l, err := ls.link(ifn)
	if err != nil {
		return fmt.Errorf("interface %s: %w", ifn, err)
	}
	if l.Attrs().MasterIndex == master {
		return nil
	}
	// Enslaving cycles the interface down and up, which drops its IPv6
	// addresses unless the interface keeps them (an operator addresses
	// CE interfaces before the daemon starts).
	_ = b.inNS(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+ifn+"/keep_addr_on_down", []byte("1\n"), 0o644)
	})
	if err := ls.la.LinkSetMasterByIndex(l, master); err != nil {
		return fmt.Errorf("ip link set %s master %d: %w", ifn, master, err)
	}
	return nil
}
