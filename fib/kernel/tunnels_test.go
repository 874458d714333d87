package kernel

import (
	"context"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// nopGateway is an ESPGateway that programs nothing.
type nopGateway struct{}

func (nopGateway) Apply(context.Context, *fib.State, []netip.Addr) (map[netip.Addr]string, map[string]string, error) {
	return nil, nil, nil
}
func (nopGateway) Close() error     { return nil }
func (nopGateway) Stats() fib.Stats { return fib.Stats{} }

// TestCarriesTunnels: the kernel backend carries tunnels only with an ESP
// gateway, and without one its answer is what Apply does: it refuses a
// State with tunnels (before touching the kernel, so no netlink here).
func TestCarriesTunnels(t *testing.T) {
	if !fib.CarriesTunnels(&Backend{esp: nopGateway{}}) {
		t.Error("with an ESP gateway: CarriesTunnels false")
	}
	without := &Backend{}
	if fib.CarriesTunnels(without) {
		t.Error("without an ESP gateway: CarriesTunnels true")
	}
	s := &fib.State{Tunnels: map[netip.Addr]*fib.Tunnel{netip.MustParseAddr("192.0.2.2"): {}}}
	if err := without.Apply(t.Context(), s); err == nil {
		t.Error("Apply of a State with tunnels succeeded without an ESP gateway")
	}
}
