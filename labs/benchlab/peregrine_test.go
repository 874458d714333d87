package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// TestPeregrineConfigLoads holds the generated configuration against the
// daemon's own loader, so a schema change fails here, in `go test`, and
// not as a variant silently "unavailable" in a root-only benchmark.
func TestPeregrineConfigLoads(t *testing.T) {
	for _, c := range []esp.Cipher{esp.AES128GCM16, esp.ChaCha20Poly1305} {
		t.Run(c.String(), func(t *testing.T) { testPeregrineConfigLoads(t, c) })
	}
}

func testPeregrineConfigLoads(t *testing.T, c esp.Cipher) {
	dir := t.TempDir()
	key := func(name string, b byte) string {
		p := filepath.Join(dir, name)
		k := make([]byte, c.KeyLen()) // the cipher's key + 4-byte salt
		for i := range k {
			k[i] = b
		}
		if err := os.WriteFile(p, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out, in := key("out.key", 1), key("in.key", 2)
	pe1 := pe{ceIf: "ce1", ceNet: ce1Net, core: pe1Core}
	pe2 := pe{ceIf: "ce2", ceNet: ce2Net, core: pe2Core}
	yml := peregrineConfig(pe1, pe2, 1, filepath.Join(dir, "p.sock"), c, spiPE1toPE2, out, spiPE2toPE1, in)
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	if cfg.Router.ID != pe1Core || cfg.BGP.ListenAddress != pe1Core || cfg.BGP.API.IsValid() {
		t.Errorf("router/bgp = %+v %+v", cfg.Router, cfg.BGP)
	}
	if n := cfg.BGP.Neighbors; len(n) != 1 || n[0].Address != pe2Core || n[0].ASN != peregrineASN || !slices.Equal(n[0].Families, []string{"vpnv4"}) {
		t.Errorf("neighbors = %+v", n)
	}
	if v := cfg.VRFs; len(v) != 1 || v[0].Name != "red" || !slices.Equal(v[0].Interfaces, []string{"ce1"}) ||
		len(v[0].StaticRoutes) != 1 || v[0].StaticRoutes[0].Prefix != ce1Net {
		t.Errorf("vrfs = %+v", v)
	}
	s := cfg.IPsec
	if s.LocalAddress != pe1Core || len(s.Tunnels) != 1 {
		t.Fatalf("ipsec = %+v", s)
	}
	tun := s.Tunnels[0]
	if tun.Remote != pe2Core || tun.Out.SPI != spiPE1toPE2 || tun.In.SPI != spiPE2toPE1 ||
		tun.Out.Cipher != c || tun.In.Cipher != c || len(tun.Out.Key.Bytes()) != c.KeyLen() || tun.In.Key.Bytes()[0] != 2 {
		t.Errorf("tunnel = %+v", tun)
	}
}
