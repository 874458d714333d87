package kernel

import (
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/peregrine-net/peregrine/fib"
)

// fakeLinks is a linkAPI over a map of links that counts its requests:
// each call is one netlink request on the real kernel.
type fakeLinks struct {
	links    map[string]netlink.Link
	next     int
	requests int
}

func newFakeLinks() *fakeLinks { return &fakeLinks{links: map[string]netlink.Link{}, next: 100} }

func (f *fakeLinks) LinkByName(name string) (netlink.Link, error) {
	f.requests++
	l, ok := f.links[name]
	if !ok {
		return nil, netlink.LinkNotFoundError{}
	}
	return l, nil
}

func (f *fakeLinks) LinkList() ([]netlink.Link, error) {
	f.requests++
	out := make([]netlink.Link, 0, len(f.links))
	for _, l := range f.links {
		out = append(out, l)
	}
	return out, nil
}

func (f *fakeLinks) LinkAdd(l netlink.Link) error {
	f.requests++
	f.next++
	l.Attrs().Index = f.next
	f.links[l.Attrs().Name] = l
	return nil
}

func (f *fakeLinks) LinkDel(l netlink.Link) error {
	f.requests++
	delete(f.links, l.Attrs().Name)
	return nil
}

func (f *fakeLinks) LinkSetUp(l netlink.Link) error {
	f.requests++
	f.links[l.Attrs().Name].Attrs().Flags |= net.FlagUp
	return nil
}

func (f *fakeLinks) LinkSetMasterByIndex(l netlink.Link, master int) error {
	f.requests++
	f.links[l.Attrs().Name].Attrs().MasterIndex = master
	return nil
}

// scaleState is n VRFs, VRF i on interface pgtce<i>, each present in f.
func scaleState(f *fakeLinks, n int) *fib.State {
	s := &fib.State{VRFs: map[string]*fib.VRF{}}
	for i := range n {
		name, ifn := fmt.Sprintf("v%d", i), fmt.Sprintf("pgtce%d", i)
		s.VRFs[name] = &fib.VRF{Name: name, Table: uint32(1000 + i), Interfaces: []string{ifn}}
		if _, ok := f.links[ifn]; !ok {
			f.next++
			f.links[ifn] = &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: ifn, Index: f.next}}
		}
	}
	return s
}

// reloadLinkRequests brings n VRFs up in a fake kernel, then returns the
// link requests of the device step of an Apply that adds one VRF.
func reloadLinkRequests(t *testing.T, n int) int {
	f := newFakeLinks()
	b := &Backend{ns: netns.None()}
	if _, _, errs := b.vrfDevices(f, scaleState(f, n)); len(errs) > 0 {
		t.Fatal(errs)
	}
	s := scaleState(f, n+1)
	f.requests = 0
	devs, enslaved, errs := b.vrfDevices(f, s)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(devs) != n+1 || len(enslaved) != n+1 {
		t.Fatalf("%d devices, %d interfaces enslaved, want %d", len(devs), len(enslaved), n+1)
	}
	last := f.links[fmt.Sprintf("pgtce%d", n)]
	if dev := f.links[fib.VRFDevice(fmt.Sprintf("v%d", n))]; dev == nil || last.Attrs().MasterIndex != dev.Attrs().Index || dev.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("the new VRF's device is missing, down or not its interface's master")
	}
	return f.requests
}

// TestReloadAddingOneVRFSendsLinkRequestsForItAlone: the VRF device step
// of an Apply that adds one VRF to many sends a dump and the new VRF's
// requests, not three requests for every VRF already up (a lookup of
// its device, a set-up, a lookup of its CE interface): at 2,000 VRFs,
// 6,000 requests a reload.
func TestReloadAddingOneVRFSendsLinkRequestsForItAlone(t *testing.T) {
	few, many := reloadLinkRequests(t, 5), reloadLinkRequests(t, 40)
	t.Logf("link requests adding one VRF: to 5: %d, to 40: %d", few, many)
	if many > few {
		t.Errorf("adding one VRF to 40 sent %d link requests, to 5 %d: want as many", many, few)
	}
}
