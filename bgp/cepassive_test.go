package bgp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/mpls"
)

// TestCEPassiveBindConflict measures the first reason of ErrCEPassive:
// with the core's GoBGP listening on the wildcard address unbound, as it
// does by default, a VRF's CE server cannot listen on that port bound to
// a device that is not a VRF (l3mdev) device: Linux answers EADDRINUSE.
// If this test fails, the kernel allows it now and passive CE sessions
// could be built on GoBGP's Global.BindToDevice.
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
		t.Fatalf("a listener bound to lo on 0.0.0.0:%d was accepted beside the core's unbound one: ErrCEPassive's reason no longer holds", port)
	case !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use"):
		t.Fatalf("device-bound listener: %v, want EADDRINUSE", err)
	}
}

// TestCEPassiveRefused: a passive CE neighbor is refused by
// CheckRunnable (so by peregrined -check) and by applying it, with the
// neighbor's path and ErrCEPassive.
func TestCEPassiveRefused(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
		VRFs: []VRF{{Name: "red", LabelMode: "per-vrf", Neighbors: []CENeighbor{
			{Address: netip.MustParseAddr("10.1.0.2"), ASN: 65101, Families: []string{"ipv4"}},
			{Address: netip.MustParseAddr("10.1.0.3"), ASN: 65102, Families: []string{"ipv4"}, Passive: true},
		}}}}
	err := CheckRunnable(&cfg)
	if !errors.Is(err, ErrCEPassive) || !strings.Contains(err.Error(), "vrfs[0].neighbors[1].passive (vrf red, CE 10.1.0.3)") {
		t.Errorf("CheckRunnable: %v", err)
	}
	base := cfg
	base.VRFs = []VRF{{Name: "red", LabelMode: "per-vrf"}}
	s := startSpeaker(t, &base)
	if err := s.do(func() error { return s.apply(context.Background(), &cfg) }); !errors.Is(err, ErrCEPassive) {
		t.Errorf("apply: %v, want ErrCEPassive", err)
	}
}
