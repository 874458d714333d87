package main

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestIKETunnelsMakeBeforeBreak follows a child SA through a rekey and
// deletes: the newest child seals and opens, older ones only open until
// their delete, and static tunnels are kept alongside.
func TestIKETunnelsMakeBeforeBreak(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	static := fib.Tunnel{Remote: netip.MustParseAddr("192.0.2.9"), Out: &fib.SAParams{SPI: 0x900}, In: &fib.SAParams{SPI: 0x901}}
	s := &ikeService{
		log: slog.New(slog.DiscardHandler), window: 1024,
		static:  fib.Config{Tunnels: []fib.Tunnel{static}},
		remotes: map[string]netip.Addr{"pe2": pe2}, childs: map[netip.Addr]map[uint32]*child{},
	}
	t0 := time.Unix(1e9, 0)
	mk := func(in, out uint32, created time.Time) ike.ChildSA {
		return ike.ChildSA{Peer: "pe2", InSPI: in, OutSPI: out, Cipher: esp.AES128GCM16,
			InKey: ike.NewKeyMaterial(make([]byte, 20)), OutKey: ike.NewKeyMaterial(make([]byte, 20)), UDPEncap: true,
			Remote: netip.AddrPortFrom(pe2, 4500), Created: created}
	}
	ikeTunnel := func() *fib.Tunnel {
		t.Helper()
		s.mu.Lock()
		fc := s.fibConfigLocked()
		s.mu.Unlock()
		var found *fib.Tunnel
		for i, tn := range fc.Tunnels {
			switch tn.Remote {
			case static.Remote:
				if tn.Out.SPI != 0x900 {
					t.Errorf("static tunnel changed: %+v", tn)
				}
			case pe2:
				found = &fc.Tunnels[i]
			default:
				t.Errorf("unexpected tunnel %+v", tn)
			}
		}
		if len(fc.Tunnels) != 1 && found == nil {
			t.Errorf("static tunnel lost: %+v", fc.Tunnels)
		}
		return found
	}
	retiring := func(tn *fib.Tunnel) []uint32 {
		var spis []uint32
		for _, p := range tn.RetiringIn {
			spis = append(spis, p.SPI)
		}
		return spis
	}

	c1 := mk(0xa1, 0xb1, t0)
	s.childUp(c1)
	if tn := ikeTunnel(); tn == nil || tn.Out.SPI != 0xb1 || tn.In.SPI != 0xa1 || !tn.UDP || len(tn.RetiringIn) != 0 || tn.In.ReplayWindow != 1024 {
		t.Fatalf("first child: %+v", tn)
	}
	c2 := mk(0xa2, 0xb2, t0.Add(time.Second))
	c2.Replaces = c1.InSPI
	s.childUp(c2)
	if tn := ikeTunnel(); tn.Out.SPI != 0xb2 || tn.In.SPI != 0xa2 || len(tn.RetiringIn) != 1 || tn.RetiringIn[0].SPI != 0xa1 {
		t.Fatalf("after the rekey: out %v in %v retiring %x", tn.Out, tn.In, retiring(tn))
	}
	retireGrace = 50 * time.Millisecond
	defer func() { retireGrace = 2 * time.Second }()
	s.childDown(c1)
	if tn := ikeTunnel(); tn.Out.SPI != 0xb2 || tn.In.SPI != 0xa2 || len(tn.RetiringIn) != 1 || tn.RetiringIn[0].SPI != 0xa1 {
		t.Fatalf("right after the old child's delete (its packets may still be on the way): out %v in %v retiring %x", tn.Out, tn.In, retiring(tn))
	}
	time.Sleep(200 * time.Millisecond)
	tn := ikeTunnel()
	if tn.Out.SPI != 0xb2 || tn.In.SPI != 0xa2 || len(tn.RetiringIn) != 0 {
		t.Fatalf("after the grace: out %v in %v retiring %x", tn.Out, tn.In, retiring(tn))
	}
	s.childDown(c2)
	if tn := ikeTunnel(); tn != nil {
		t.Fatalf("tunnel left after every child was deleted: %+v", tn)
	}
}

// TestReloadIKEPeers: a reload that changes the IKE peers (here only the
// PSK) is refused; one that leaves them alone is not.
func TestReloadIKEPeers(t *testing.T) {
	dir := t.TempDir()
	load := func(psk, extra string) *config.Config {
		t.Helper()
		writeFile(t, dir, "pe2.psk", psk)
		cfg, err := config.Load(writeFile(t, dir, "pe.yml", goodConfig+`ipsec:
  local-address: 192.0.2.1
  ike-peers: [{name: pe2, remote-address: 192.0.2.2, psk-file: pe2.psk}]
`+extra))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := load("first-psk-0123456789", "")
	if !sameIKEPeers(a, load("first-psk-0123456789", "log: {level: debug}\n")) {
		t.Error("unrelated change counted as an IKE peer change")
	}
	if sameIKEPeers(a, load("second-psk-0123456789", "")) {
		t.Error("a new PSK was not seen as a change")
	}
}
