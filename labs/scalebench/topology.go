package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// The lab's addresses: private and test ranges that exist only inside the
// lab's namespaces, which have no link to the host or anywhere else.
var (
	pe1Core  = netip.MustParseAddr("192.168.255.1")
	pe2Core  = netip.MustParseAddr("192.168.255.2")
	pe1Spk   = netip.MustParseAddr("192.168.254.1")
	spkAddr  = netip.MustParseAddr("192.168.254.2")
	ceBase   = netip.MustParseAddr("100.64.0.0")        // VRF i's CE link is ceBase+4i /30
	spkNet   = netip.MustParsePrefix("198.51.100.0/24") // the VPN route gobgpd announces in every VRF
	farFirst = netip.MustParsePrefix("10.200.0.0/24")   // behind pe2, in the first VRF
	farLast  = netip.MustParsePrefix("10.201.0.0/24")   // behind pe2, in the last VRF
)

const asn = 65000

// ceLink is VRF i's CE link: the PE's address is .1, the CE's .2.
func ceLink(i int) netip.Prefix {
	a := ceBase.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(4 * i)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
}

func nth(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// vrfName, ceIf and ceEnd name VRF i, its CE interface in pe1 and the
// interface's other end in ce1 (at most 15 bytes for 5-digit i).
func vrfName(i int) string { return fmt.Sprintf("v%d", i) }
func ceIf(i int) string    { return fmt.Sprintf("c%d", i) }
func ceEnd(i int) string   { return fmt.Sprintf("e%d", i) }
func rt(i int) string      { return fmt.Sprintf("%d:%d", asn, 1000+i) }

// topology is one run's lab:
//
//	            100.64.0.0/30 ...                192.168.255.0/30           10.200.0.0/24
//	+-----+ e0 ... eN  c0 ... cN +-----+ core          core +-----+ d0     eth0 +-----+
//	| ce1 |======================| pe1 |====================| pe2 |------------| ce2 |
//	+-----+  one veth per VRF    +-----+  ESP, iBGP VPNv4   +-----+ d1     eth1 +-----+
//	                                | spk 192.168.254.0/30                10.201.0.0/24
//	                             +-----+
//	                             | spk |  gobgpd: 198.51.100.0/24 in every VRF, next hop pe2
//	                             +-----+
//
// pe1 runs peregrined (userspace backend) with the N VRFs under test, pe2
// one with two VRFs that import the first and last VRF's target and carry
// their pings to ce2.
type topology struct {
	lab                *netns.Lab
	pe1, pe2, ce1, ce2 *netns.Node
	spk                *netns.Node
	vrfs               int // VRFs in pe1's first config; one more veth is made for the reload
}

func buildTopology(ctx context.Context, lab *netns.Lab, vrfs int) (*topology, error) {
	t := &topology{lab: lab, vrfs: vrfs}
	var err error
	for _, n := range []struct {
		p    **netns.Node
		name string
	}{{&t.pe1, "pe1"}, {&t.pe2, "pe2"}, {&t.ce1, "ce1"}, {&t.ce2, "ce2"}, {&t.spk, "spk"}} {
		if *n.p, err = lab.AddNode(n.name); err != nil {
			return nil, err
		}
	}
	links := []struct {
		a      *netns.Node
		aIf    string
		aAddr  netip.Prefix
		b      *netns.Node
		bIf    string
		bAddrs netip.Prefix
	}{
		{t.pe1, "core", netip.PrefixFrom(pe1Core, 30), t.pe2, "core", netip.PrefixFrom(pe2Core, 30)},
		{t.pe1, "spk", netip.PrefixFrom(pe1Spk, 30), t.spk, "eth0", netip.PrefixFrom(spkAddr, 30)},
		{t.pe2, "d0", netip.PrefixFrom(nth(farFirst, 1), 24), t.ce2, "eth0", netip.PrefixFrom(nth(farFirst, 2), 24)},
		{t.pe2, "d1", netip.PrefixFrom(nth(farLast, 1), 24), t.ce2, "eth1", netip.PrefixFrom(nth(farLast, 2), 24)},
	}
	for _, l := range links {
		if err := lab.Link(l.a, l.aIf, l.b, l.bIf); err != nil {
			return nil, err
		}
		if err := l.a.AddAddr(l.aIf, l.aAddr); err != nil {
			return nil, err
		}
		if err := l.b.AddAddr(l.bIf, l.bAddrs); err != nil {
			return nil, err
		}
	}
	if err := t.ceLinks(ctx); err != nil {
		return nil, err
	}
	if vrfs == 0 {
		return t, nil
	}
	last := ceLink(vrfs - 1)
	for _, c := range [][]string{
		{"ip", "route", "add", farFirst.String(), "via", nth(ceLink(0), 1).String()},
		{"ip", "route", "add", farLast.String(), "via", nth(last, 1).String()},
	} {
		if _, err := t.ce1.Exec(ctx, c...); err != nil {
			return nil, err
		}
	}
	for i, c := range [][]string{
		{"ip", "route", "add", ceLink(0).String(), "via", nth(farFirst, 1).String()},
		{"ip", "route", "add", last.String(), "via", nth(farLast, 1).String()},
	} {
		if i == 1 && vrfs == 1 {
			break // the first VRF is the last: its CE link is routed already
		}
		if _, err := t.ce2.Exec(ctx, c...); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ceLinks makes the VRFs' CE veths (one more than vrfs, for the reload)
// with one `ip -batch` in each namespace: thousands of `ip` processes
// would take longer than the daemon's bring-up.
func (t *topology) ceLinks(ctx context.Context) error {
	var pe, ce strings.Builder
	for i := range t.vrfs + 1 {
		l := ceLink(i)
		fmt.Fprintf(&pe, "link add %s type veth peer name %s netns %s\n", ceIf(i), ceEnd(i), t.ce1.Namespace())
		fmt.Fprintf(&pe, "addr add %s dev %s\n", netip.PrefixFrom(nth(l, 1), 30), ceIf(i))
		fmt.Fprintf(&pe, "link set %s up\n", ceIf(i))
		fmt.Fprintf(&ce, "addr add %s dev %s\n", netip.PrefixFrom(nth(l, 2), 30), ceEnd(i))
		fmt.Fprintf(&ce, "link set %s up\n", ceEnd(i))
	}
	for _, b := range []struct {
		n    *netns.Node
		body string
	}{{t.pe1, pe.String()}, {t.ce1, ce.String()}} {
		f := filepath.Join(t.lab.Dir(), b.n.Name()+"-links.batch")
		if err := os.WriteFile(f, []byte(b.body), 0o644); err != nil {
			return err
		}
		if out, err := b.n.Exec(ctx, "ip", "-batch", f); err != nil {
			return fmt.Errorf("ip -batch in %s: %w: %s", b.n.Name(), err, out)
		}
	}
	return nil
}
