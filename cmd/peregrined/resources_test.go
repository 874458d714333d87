package main

import (
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// TestFIBConfigResources: a manual tunnel's per-resource SA pairs (RFC
// 9611) reach the FIB, each outbound SA's sequence persisted on its own.
func TestFIBConfigResources(t *testing.T) {
	sa := func(spi uint32, b byte) config.SA {
		k := make([]byte, 20)
		k[0] = b
		return config.SA{SPI: spi, Cipher: esp.AES128GCM16, Key: config.NewKey(k)}
	}
	cfg := &config.Config{}
	cfg.IPsec.Encapsulation, cfg.IPsec.ReplayWindow = "udp", 1024
	cfg.IPsec.Tunnels = []config.Tunnel{{Remote: netip.MustParseAddr("10.0.0.2"), Out: sa(0x1001, 1), In: sa(0x2001, 2),
		Resources: []config.SAPair{{Out: sa(0x1002, 3), In: sa(0x2002, 4)}}}}
	fc := fibConfig(cfg)
	if len(fc.Tunnels) != 1 || len(fc.Tunnels[0].Resources) != 1 {
		t.Fatalf("tunnels %+v", fc.Tunnels)
	}
	r := fc.Tunnels[0].Resources[0]
	if r.Out.SPI != 0x1002 || !r.Out.PersistSequence || r.Out.Key[0] != 3 || r.In.SPI != 0x2002 || r.In.ReplayWindow != 1024 || r.In.Key[0] != 4 {
		t.Errorf("resource 1: out %+v in %+v", r.Out, r.In)
	}
}
