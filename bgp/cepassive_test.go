package bgp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestCEPassiveBindConflict measures why passive CEs need
// bgp.listen-address: with the core's GoBGP listening on the wildcard
// address unbound, as it does by default, a VRF's CE server cannot listen
// on that port bound to a device that is not a VRF (l3mdev) device: Linux
// answers EADDRINUSE. If this test fails, the kernel allows it now and
// the rule could be relaxed.
func TestCEPassiveBindConflict(t *testing.T) {
	if testing.Short() {
		t.Skip("listens on a TCP port")
	}
	ctx := context.Background()
	port := freePort(t, "0.0.0.0")
	start := func(bindTo string) (*server.BgpServer, error) {
		srv := server.NewBgpServer(server.LoggerOption(newSlogAdapter(slog.New(slog.NewTextHandler(io.Discard, nil)))))
		go srv.Serve()
		t.Cleanup(func() { _ = stopGoBGP(srv) })
		return srv, srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
			Asn: 65000, RouterId: "192.0.2.1", ListenAddresses: []string{"0.0.0.0"}, ListenPort: int32(port), BindToDevice: bindTo,
		}})
	}
	if _, err := start(""); err != nil {
		t.Skipf("core listener on 0.0.0.0:%d: %v", port, err)
	}
	_, err := start("lo")
	switch {
	case errors.Is(err, syscall.EPERM):
		t.Skipf("SO_BINDTODEVICE needs CAP_NET_RAW: %v", err)
	case err == nil:
		t.Fatalf("a listener bound to lo on 0.0.0.0:%d was accepted beside the core's unbound one: the reason for needing bgp.listen-address no longer holds", port)
	case !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use"):
		t.Fatalf("device-bound listener: %v, want EADDRINUSE", err)
	}
}

// TestCEPassiveListeners measures what passive CE sessions are built on,
// in a network namespace of its own with two links (red's ce1, blue's
// ce2) that both hold 10.1.0.1: beside the core's listener on the
// wildcard, a listener on 10.1.0.1 bound to ce1 fails (EADDRINUSE); with
// the core on a specific address, red's listener on 10.1.0.1 bound to
// ce1 and blue's on the same address and port bound to ce2 both open, and
// a second one bound to ce1 does not.
func TestCEPassiveListeners(t *testing.T) {
	netns.InNewNamespace(t, func() {
		for _, name := range []string{"ce1", "ce2", "core"} {
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "-peer"}); err != nil {
				t.Fatalf("ip link add %s type veth peer name %s-peer: %v", name, name, err)
			}
		}
		for name, a := range map[string]string{"ce1": "10.1.0.1/24", "ce2": "10.1.0.1/24", "core": "192.0.2.1/24"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				t.Fatal(err)
			}
			addr, _ := netlink.ParseAddr(a)
			if err := netlink.AddrAdd(l, addr); err != nil {
				t.Fatalf("ip addr add %s dev %s: %v", a, name, err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
		}
		const port = 179
		listen := func(addr, dev string) (net.Listener, error) {
			if dev == "" {
				return net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
			}
			lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
				var err error
				_ = c.Control(func(fd uintptr) {
					err = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, dev)
				})
				return err
			}}
			return lc.Listen(context.Background(), "tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
		}
		mustListen := func(addr, dev string) net.Listener {
			t.Helper()
			l, err := listen(addr, dev)
			if err != nil {
				t.Fatalf("listen on %s:%d bound to %q: %v", addr, port, dev, err)
			}
			return l
		}
		inUse := func(addr, dev, why string) {
			t.Helper()
			l, err := listen(addr, dev)
			if err == nil {
				l.Close()
				t.Errorf("listen on %s:%d bound to %q opened %s", addr, port, dev, why)
			} else if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("listen on %s:%d bound to %q: %v, want EADDRINUSE", addr, port, dev, err)
			}
		}

		core := mustListen("0.0.0.0", "")
		inUse("10.1.0.1", "ce1", "beside the core's wildcard listener")
		core.Close()

		core = mustListen("192.0.2.1", "")
		defer core.Close()
		red := mustListen("10.1.0.1", "ce1")
		defer red.Close()
		blue := mustListen("10.1.0.1", "ce2")
		defer blue.Close()
		inUse("10.1.0.1", "ce1", "twice on one device")
		// The probe finds the same.
		if err := probeCEListen(context.Background(), ceListen{device: "ce1", addrs: "10.1.0.1", port: port}); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("probe of a listener in use: %v, want EADDRINUSE", err)
		}
		if err := probeCEListen(context.Background(), ceListen{device: "ce1", addrs: "10.1.0.9", port: port}); !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Errorf("probe of an address ce1 does not hold: %v, want EADDRNOTAVAIL", err)
		}
	})
}

// TestCEPassiveUnsafe: a passive CE neighbor whose session could land
// outside its VRF is refused by CheckRunnable (so by peregrined -check)
// and by applying it, with the neighbor's field and ErrCEPassiveUnsafe.
func TestCEPassiveUnsafe(t *testing.T) {
	ok := CENeighbor{Address: netip.MustParseAddr("10.1.0.3"), ASN: 65102, Families: []string{"ipv4"}, Passive: true,
		LocalAddress: netip.MustParseAddr("10.1.0.1")}
	for _, tc := range []struct {
		name   string
		listen string
		port   uint16
		local  string
		want   string
	}{
		{"core on the wildcard", "", 179, "10.1.0.1", "vrfs[0].neighbors[1].passive: true needs bgp.listen-address"},
		{"core on 0.0.0.0", "0.0.0.0", 179, "10.1.0.1", "vrfs[0].neighbors[1].passive: true needs bgp.listen-address (a specific address)"},
		{"core listens nowhere", "192.0.2.1", 0, "10.1.0.1", "vrfs[0].neighbors[1].passive: true needs bgp.listen-port"},
		{"no local address", "192.0.2.1", 179, "", "vrfs[0].neighbors[1].local-address: required with passive: true"},
		{"local address is the core's", "192.0.2.1", 179, "192.0.2.1", "vrfs[0].neighbors[1].local-address: 192.0.2.1 is bgp.listen-address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ok
			n.LocalAddress = netip.Addr{}
			if tc.local != "" {
				n.LocalAddress = netip.MustParseAddr(tc.local)
			}
			cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
				ListenPort: tc.port,
				VRFs: []VRF{{Name: "red", LabelMode: "per-vrf", Neighbors: []CENeighbor{
					{Address: netip.MustParseAddr("10.1.0.2"), ASN: 65101, Families: []string{"ipv4"}}, n,
				}}}}
			if tc.listen != "" {
				cfg.ListenAddress = netip.MustParseAddr(tc.listen)
			}
			err := CheckRunnable(&cfg)
			if !errors.Is(err, ErrCEPassiveUnsafe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckRunnable: %v\nwant %q", err, tc.want)
			}
			base := cfg
			base.ListenPort = 0
			base.VRFs = []VRF{{Name: "red", LabelMode: "per-vrf"}}
			s := startSpeaker(t, &base)
			if err := s.do(func() error { return s.apply(context.Background(), &cfg) }); !errors.Is(err, ErrCEPassiveUnsafe) {
				t.Errorf("apply: %v, want ErrCEPassiveUnsafe", err)
			}
		})
	}
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, ListenAddress: netip.MustParseAddr("192.0.2.1"), ListenPort: 179,
		VRFs: []VRF{{Name: "red", Neighbors: []CENeighbor{ok}}}}
	if err := CheckRunnable(&cfg); err != nil {
		t.Errorf("CheckRunnable of a runnable passive CE: %v", err)
	}
}

// TestCEPassiveNotRun: a passive CE whose VRF's listener cannot open
// (here its interface does not exist) is not run and says why, and so
// is one on another interface than the VRF's first passive CE; the
// VRF's active CE runs meanwhile. Once the interfaces change so that the
// listener opens, the VRF's CE server restarts listening and the passive
// CE runs.
func TestCEPassiveNotRun(t *testing.T) {
	if testing.Short() {
		t.Skip("listens on a TCP port")
	}
	port := freePort(t, "127.0.0.1")
	a := netip.MustParseAddr
	cfg := Config{RouterID: a("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
		ListenAddress: a("127.0.0.1"), ListenPort: uint16(port),
		VRFs: []VRF{{Name: "red", LabelMode: "per-vrf", Neighbors: []CENeighbor{
			{Address: a("127.0.0.3"), ASN: 65101, Families: []string{"ipv4"}, Passive: true, LocalAddress: a("127.0.0.9")},
			{Address: a("10.2.0.2"), ASN: 65102, Families: []string{"ipv4"}, Passive: true, LocalAddress: a("10.2.0.1")},
			{Address: a("127.0.0.4"), ASN: 65103, Families: []string{"ipv4"}},
		}}}}
	s := startSpeaker(t, &cfg)
	ctx := context.Background()
	set := func(conns ...Connected) {
		t.Helper()
		if err := s.SetConnected(ctx, "red", conns); err != nil {
			t.Fatal(err)
		}
	}
	conn := func(ifn, p string) Connected { return Connected{Interface: ifn, Prefix: netip.MustParsePrefix(p)} }
	reasons := func(want map[string]string) {
		t.Helper()
		for addr, w := range want {
			if r := s.CEReason("red", a(addr)); w == "" && r != "" || !strings.Contains(r, w) {
				t.Errorf("CEReason(red, %s) = %q, want %q", addr, r, w)
			}
		}
	}
	listener := net.JoinHostPort("127.0.0.9", strconv.Itoa(port))

	set(conn("ce7", "127.0.0.0/8"), conn("ce2", "10.2.0.0/24"))
	reasons(map[string]string{
		"127.0.0.3": "not accepted: vrf red's listener on " + listener + " bound to ce7 did not open",
		"10.2.0.2":  "not accepted: passive CE on ce2, but vrf red accepts passive CEs on ce7 only",
		"127.0.0.4": "",
	})
	if got := cePeers(t, s, "red"); len(got) != 1 || got["127.0.0.4"] != "ce7" {
		t.Errorf("red's sessions with its listener failed: %v, want the active CE alone", got)
	}
	if c, err := net.Dial("tcp", listener); err == nil {
		c.Close()
		t.Errorf("something listens on %s", listener)
	}

	set(conn("lo", "127.0.0.0/8"), conn("ce2", "10.2.0.0/24"))
	reasons(map[string]string{
		"127.0.0.3": "",
		"10.2.0.2":  "but vrf red accepts passive CEs on lo only",
		"127.0.0.4": "",
	})
	if got := cePeers(t, s, "red"); len(got) != 2 || got["127.0.0.3"] != "lo" || got["127.0.0.4"] != "lo" {
		t.Errorf("red's sessions once its listener opens: %v", got)
	}
	c, err := net.Dial("tcp", listener)
	if err != nil {
		t.Fatalf("red's listener: %v", err)
	}
	c.Close()

	// A passive CE whose listener cannot open yet (the test holds its
	// address and port, as a tentative IPv6 address would refuse it):
	// the listener that did open stays, with its CE, and the new one is
	// retried until it opens.
	held := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		_ = c.Control(func(fd uintptr) {
			err = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo")
		})
		return err
	}}
	hold, err := held.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.10", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	more := cfg
	more.VRFs = []VRF{cfg.VRFs[0]}
	more.VRFs[0].Neighbors = append(slices.Clone(cfg.VRFs[0].Neighbors),
		CENeighbor{Address: a("127.0.0.5"), ASN: 65104, Families: []string{"ipv4"}, Passive: true, LocalAddress: a("127.0.0.10")})
	if err := s.do(func() error { return s.apply(ctx, &more) }); err != nil {
		t.Fatal(err)
	}
	reasons(map[string]string{
		"127.0.0.3": "",
		"127.0.0.5": "not accepted: vrf red's listener on 127.0.0.10:" + strconv.Itoa(port) + ", " + listener + " bound to lo did not open: listen tcp 127.0.0.10",
		"127.0.0.4": "",
	})
	if got := cePeers(t, s, "red"); len(got) != 2 || got["127.0.0.3"] != "lo" || got["127.0.0.4"] != "lo" {
		t.Errorf("red's sessions after a passive CE whose listener cannot open: %v", got)
	}
	c, err = net.Dial("tcp", listener)
	if err != nil {
		t.Fatalf("red's listener after a failed addition: %v", err)
	}
	c.Close()

	hold.Close()
	deadline := time.Now().Add(3 * ceListenRetry)
	for s.CEReason("red", a("127.0.0.5")) != "" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	reasons(map[string]string{"127.0.0.3": "", "127.0.0.5": "", "127.0.0.4": ""})
	if got := cePeers(t, s, "red"); len(got) != 3 {
		t.Errorf("red's sessions once the held address is free: %v", got)
	}
}
