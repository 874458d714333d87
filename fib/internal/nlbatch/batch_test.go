package nlbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// Host tests with root (plain IPv4 routes, which any kernel has) of the
// batched writes: a namespace of their own with one interface,
//
//	core 192.168.0.1/24 (a veth, up)
//
// and /32 routes through it in table 1000, proto 204.

const batchTable = 1000

// inBatchNS runs f in the namespace drawn above with a Conn in it and
// core's index.
func inBatchNS(t *testing.T, f func(c *Conn, core int)) {
	netns.InNewNamespace(t, func() {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "core"}, PeerName: "peer"}); err != nil {
			t.Fatal(err)
		}
		var core netlink.Link
		for _, name := range []string{"peer", "core"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
			core = l
		}
		a, _ := netlink.ParseAddr("192.168.0.1/24")
		if err := netlink.AddrAdd(core, a); err != nil {
			t.Fatal(err)
		}
		c, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f(c, core.Attrs().Index)
	})
}

// hostRoutes are n /32s in 10.0.0.0/8 through core, by gateway.
func hostRoutes(n, core int) []*netlink.Route {
	out := make([]*netlink.Route, n)
	for i := range out {
		out[i] = &netlink.Route{Table: batchTable, Protocol: 204, Family: netlink.FAMILY_V4, LinkIndex: core,
			Gw: net.IPv4(192, 168, 0, 2).To4(), Dst: &net.IPNet{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4(), Mask: net.CIDRMask(32, 32)}}
	}
	return out
}

// testKey names a route as the tests do: its destination and table.
func testKey(r *netlink.Route) string {
	return fmt.Sprintf("%v table %d", r.Dst, r.Table)
}

// tableKeys is the testKey of every route of protocol 204 in batchTable.
func tableKeys(t *testing.T) map[string]bool {
	t.Helper()
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: batchTable, Protocol: 204},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for i := range rs {
		out[testKey(&rs[i])] = true
	}
	return out
}

// TestWriteNamesEachFailure: among many routes written in batches of 7,
// the ones the kernel refuses (through an interface that does not exist:
// ENETUNREACH, "Nexthop has invalid gateway") and one that cannot be
// encoded are each named in the error, wherever they fall in a batch,
// and every other route is in the kernel; deleting them all then leaves
// the table empty, a route already gone being no error.
func TestWriteNamesEachFailure(t *testing.T) {
	inBatchNS(t, func(c *Conn, core int) {
		routes := hostRoutes(100, core)
		bad := map[int]bool{0: true, 6: true, 7: true, 50: true, 99: true} // a batch's first, last, next's first, the last route
		for i := range bad {
			routes[i].LinkIndex = 999
		}
		routes[30].Dst = nil // no destination: not sent
		c.maxReqs = 7
		writes := c.Writes()
		err := c.Write(RouteRequests(ReplaceRoute, routes, testKey))
		if err == nil {
			t.Fatal("no error for 6 bad routes")
		}
		if n := c.Writes() - writes; n != 15 {
			t.Errorf("%d writes for 100 routes 7 to a batch, want 15", n)
		}
		for i, r := range routes {
			if i == 30 {
				if !strings.Contains(err.Error(), "ip route replace <nil> table 1000: route without a destination") || !errors.Is(err, ErrNoDestination) {
					t.Errorf("route 30, without a destination, not named in %v", err)
				}
				continue
			}
			named := strings.Contains(err.Error(), "ip route replace "+testKey(r)+": ")
			if named != bad[i] {
				t.Errorf("route %d (%s): named in the error %v, bad %v", i, testKey(r), named, bad[i])
			}
		}
		if !errors.Is(err, unix.ENETUNREACH) || !strings.Contains(err.Error(), "(Nexthop has invalid gateway)") {
			t.Errorf("error %v does not wrap ENETUNREACH with the kernel's reason", err)
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
			t.Errorf("%d errors, want 6:\n%v", n, err)
		}
		have := tableKeys(t)
		for i, r := range routes {
			if in := have[testKey(r)]; in == (bad[i] || i == 30) {
				t.Errorf("route %d (%s) in the kernel: %v", i, testKey(r), in)
			}
		}
		if len(have) != 94 {
			t.Errorf("%d routes in table %d, want 94", len(have), batchTable)
		}

		// Delete all of them, the ones never written (ESRCH) included.
		for i := range bad {
			routes[i].LinkIndex = core
		}
		routes = append(routes[:30], routes[31:]...)
		if err := c.Write(RouteRequests(DeleteRoute, routes, testKey)); err != nil {
			t.Errorf("deleting: %v", err)
		}
		if have := tableKeys(t); len(have) != 0 {
			t.Errorf("%d routes left in table %d after deleting all", len(have), batchTable)
		}
	})
}

// TestWriteLostAnswersAreAnError: when the answers to a batch cannot all
// be queued (a receive buffer far smaller than the batch's failures
// need: what batchLimit prevents), the socket reports ENOBUFS and the
// write fails with ErrOutcomeUnknown naming the batch's routes, never
// reports success; the same socket then writes the next batch right,
// the earlier batch's late answers taken for none of its own.
func TestWriteLostAnswersAreAnError(t *testing.T) {
	inBatchNS(t, func(c *Conn, core int) {
		routes := hostRoutes(2000, 999) // every one fails: no interface 999
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4096); err != nil {
			t.Fatal(err)
		}
		c.maxReqs = len(routes)
		err := c.Write(RouteRequests(ReplaceRoute, routes, testKey))
		want := "2000 requests, ip route replace 10.0.0.0/32 table 1000 to ip route replace 10.0.7.207/32 table 1000: the kernel's answers were lost"
		if !errors.Is(err, unix.ENOBUFS) || !errors.Is(err, ErrOutcomeUnknown) || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q (ENOBUFS)", err, want)
		}
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer); err != nil {
			t.Fatal(err)
		}
		c.maxReqs = batchLimit(2 * socketBuffer)
		good := hostRoutes(10, core)
		if err := c.Write(RouteRequests(ReplaceRoute, good, testKey)); err != nil {
			t.Errorf("the next write on the socket: %v", err)
		}
		if have := tableKeys(t); len(have) != 10 {
			t.Errorf("%d routes in table %d, want 10", len(have), batchTable)
		}
	})
}

// TestBatchLimit: all of a batch's answers fit its receive buffer.
func TestBatchLimit(t *testing.T) {
	for _, c := range []struct{ rcvbuf, want int }{
		{2304, 1}, {425984, 207}, {8 << 20, 4095}, {64 << 20, maxBatch},
	} {
		if got := batchLimit(c.rcvbuf); got != c.want {
			t.Errorf("batchLimit(%d) = %d, want %d", c.rcvbuf, got, c.want)
		}
		if got := batchLimit(c.rcvbuf); c.rcvbuf >= 2*errorAckSize && (got+1)*errorAckSize > c.rcvbuf {
			t.Errorf("batchLimit(%d) = %d: its answers need %d bytes", c.rcvbuf, got, (got+1)*errorAckSize)
		}
	}
}

// ackMsg is an NLMSG_ERROR answering seq with errno, capped (the
// request's header only), with text as its extended-ack message.
func ackMsg(seq uint32, errno syscall.Errno, text string) []byte {
	m := make([]byte, unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN)
	flags := uint16(unix.NLM_F_CAPPED)
	if text != "" {
		flags |= unix.NLM_F_ACK_TLVS
		m = appendAttr(m, unix.NLMSGERR_ATTR_MSG, append([]byte(text), 0))
	}
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint16(m[6:], flags)
	binary.NativeEndian.PutUint32(m[8:], seq)
	binary.NativeEndian.PutUint32(m[unix.NLMSG_HDRLEN:], uint32(-int32(errno)))
	return m
}

// TestParseAck reads the errno and the kernel's reason.
func TestParseAck(t *testing.T) {
	errno, text, ok := parseAck(ackMsg(3, unix.ENETUNREACH, "Nexthop has invalid gateway"))
	if !ok || errno != unix.ENETUNREACH || text != "Nexthop has invalid gateway" {
		t.Errorf("parseAck = %v %q %v", errno, text, ok)
	}
	if errno, text, ok := parseAck(ackMsg(4, 0, "")); !ok || errno != 0 || text != "" {
		t.Errorf("parseAck of an ACK = %v %q %v", errno, text, ok)
	}
	if _, _, ok := parseAck(ackMsg(4, 0, "")[:20]); ok {
		t.Error("parseAck read a truncated message")
	}
}

// FuzzParseAck: an answer, however malformed, is read or refused, never
// a panic.
func FuzzParseAck(f *testing.F) {
	f.Add(ackMsg(3, unix.ENETUNREACH, "Nexthop has invalid gateway"))
	f.Add(ackMsg(4, 0, ""))
	f.Fuzz(func(t *testing.T, m []byte) {
		parseAck(m)
	})
}
