package userspace

import (
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/mpls"
)

// The plain MPLS path's per-packet benchmarks, on the same 1400-byte IPv4
// packets as BenchmarkOutbound and BenchmarkInbound (the ESP path), to
// run next to them: go test -run XXX -bench 'Outbound|Inbound|Plain'.

// BenchmarkPlainOutbound: lookup, label push, Ethernet header.
func BenchmarkPlainOutbound(b *testing.B) {
	d := newTestDataplane(b, mixedState())
	resolved(d)
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.3.0.2", 63, 1400)
	buf := outBuf(inner)
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	for b.Loop() {
		pkt, to, why := d.outbound(v, buf, outHeadroom, len(inner))
		if why != dropNone {
			b.Fatal(why)
		}
		if _, _, why := d.frame(v, to, buf, pkt); why != dropNone {
			b.Fatal(why)
		}
	}
}

// BenchmarkPlainInbound: Ethernet header, explicit null and VPN label
// popped, LFIB, TTL into the IP header (the TUN write aside, as
// BenchmarkInbound leaves it aside).
func BenchmarkPlainInbound(b *testing.B) {
	d := newTestDataplane(b, mixedState())
	f := frameOf(ipv4("10.3.0.2", "10.1.0.2", 64, 1400), mpls.Entry{Label: 0, TTL: 60}, mpls.Entry{Label: 1001, TTL: 60})
	work := inFrameBuf(f)
	b.SetBytes(1400)
	b.ReportAllocs()
	for b.Loop() {
		copy(work[inHeadroom:], f[:ethHeaderLen+8+20])
		if _, _, _, why := d.inboundFrame(testCore, work, inHeadroom, len(f), unix.PACKET_HOST); why != dropNone {
			b.Fatal(why)
		}
	}
}

// BenchmarkPlainSend is the whole outbound path but the TUN read: lookup,
// push, frame, and sendmmsg in batches of batchSize on a packet socket on
// a veth in a namespace of its own (the peer end drops the frames).
func BenchmarkPlainSend(b *testing.B) {
	var sock *coreSocket
	netns.InNewNamespace(b, func() {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "core0"}, PeerName: "core1"}
		if err := netlink.LinkAdd(veth); err != nil {
			b.Fatal(err)
		}
		for _, n := range []string{"core0", "core1"} {
			l, err := netlink.LinkByName(n)
			if err != nil {
				b.Fatal(err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				b.Fatal(err)
			}
		}
		l, _ := netlink.LinkByName("core0")
		var err error
		if sock, err = openCoreSocket(l.Attrs().Index); err != nil {
			b.Fatal(err)
		}
	})
	defer sock.Close()
	d := newTestDataplane(b, mixedState())
	core := &coreIface{name: "core0", mac: macCore, sock: sock}
	d.plains[pe3Plain].l2.Store(&l2Hop{core: core, hdr: makeEthHeader(macPE3, macCore), gw: pe3Plain})
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.3.0.2", 63, 1400)
	bufs := newBufs(batchSize, outBufSize(1500))
	for _, buf := range bufs {
		copy(buf[outHeadroom:], inner)
	}
	frames := &frameSender{m: newFrameBatch(batchSize)}
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf := bufs[i]
		pkt, to, why := d.outbound(v, buf, outHeadroom, len(inner))
		if why != dropNone {
			b.Fatal(why)
		}
		frames.add(v, d, to, buf, pkt)
		if i++; i == batchSize {
			frames.flush(v)
			i = 0
		}
	}
	frames.flush(v)
	if lost := v.cnt.outDrops[dropTx].Load(); lost > 0 {
		b.Fatalf("%d frames lost", lost)
	}
}
