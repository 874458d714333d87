package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
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

// TestPeregrineConfigResources: the peregrine-resources variant's config
// loads with the first pair as the tunnel's out and in and the others
// as its resources, each SA with its own SPI and key file.
func TestPeregrineConfigResources(t *testing.T) {
	dir := t.TempDir()
	c := esp.AES128GCM16
	var pairs []saPairFiles
	for k := range 3 {
		f := saPairFiles{spiPE1toPE2 + uint32(k), filepath.Join(dir, fmt.Sprintf("out%d.key", k)),
			spiPE2toPE1 + uint32(k), filepath.Join(dir, fmt.Sprintf("in%d.key", k))}
		for i, p := range []string{f.outKey, f.inKey} {
			k := bytes.Repeat([]byte{byte(10*k + i + 1)}, c.KeyLen())
			if err := os.WriteFile(p, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		pairs = append(pairs, f)
	}
	pe1 := pe{ceIf: "ce1", ceNet: ce1Net, core: pe1Core}
	pe2 := pe{ceIf: "ce2", ceNet: ce2Net, core: pe2Core}
	yml := peregrineConfig(pe1, pe2, 1, filepath.Join(dir, "p.sock"), c, pairs)
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	if len(cfg.IPsec.Tunnels) != 1 {
		t.Fatalf("tunnels = %+v", cfg.IPsec.Tunnels)
	}
	tun := cfg.IPsec.Tunnels[0]
	got := []config.SAPair{{Out: tun.Out, In: tun.In}}
	got = append(got, tun.Resources...)
	if len(got) != 3 {
		t.Fatalf("%d SA pairs, want 3:\n%s", len(got), yml)
	}
	for k, p := range got {
		if p.Out.SPI != spiPE1toPE2+uint32(k) || p.In.SPI != spiPE2toPE1+uint32(k) || p.Out.Cipher != c ||
			p.Out.Key.Bytes()[0] != byte(10*k+1) || p.In.Key.Bytes()[0] != byte(10*k+2) {
			t.Errorf("pair %d = out %#x in %#x", k, p.Out.SPI, p.In.SPI)
		}
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
	yml := peregrineConfig(pe1, pe2, 1, filepath.Join(dir, "p.sock"), c, []saPairFiles{{spiPE1toPE2, out, spiPE2toPE1, in}})
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
