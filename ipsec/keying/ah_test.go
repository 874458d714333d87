package keying

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// An AH child (ike.ChildSA.AH) becomes an AH tunnel in the FIB, the one
// the manual AH tunnels use: every SA, retiring ones too, is AH with the
// child's transform and no ESP cipher, and show output says "integrity
// only".
func TestAHChildIsAHTunnel(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	rec := &fibRecorder{}
	s := start(t, Options{FIB: rec, Remotes: map[string]netip.Addr{"pe2": pe2}})
	t0 := time.Unix(1e9, 0)
	ahChild := func(in, out uint32, created time.Time) ike.ChildSA {
		c := testChild("pe2", pe2, in, out, created)
		c.Cipher, c.AH, c.UDPEncap = 0, ah.AES128GMAC, false
		return c
	}
	c1 := ahChild(0xa1, 0xb1, t0)
	s.ChildUp(c1)
	c2 := ahChild(0xa2, 0xb2, t0.Add(time.Second))
	c2.Replaces = c1.InSPI
	s.ChildUp(c2)
	fc, _ := rec.config()
	if len(fc.Tunnels) != 1 {
		t.Fatalf("tunnels %+v", fc.Tunnels)
	}
	tn := fc.Tunnels[0]
	sas := append([]*fib.SAParams{tn.Out, tn.In}, tn.RetiringIn...)
	if len(sas) != 3 {
		t.Fatalf("want out, in and one retiring SA: %+v", tn)
	}
	for _, p := range sas {
		if !p.IsAH() || p.AH != ah.AES128GMAC || p.Cipher != 0 || len(p.Key) != ah.AES128GMAC.KeyLen() {
			t.Errorf("SA %v: AH %v cipher %v key %d bytes", p, p.AH, p.Cipher, len(p.Key))
		}
		if got := p.String(); got != "ah aes128gmac spi 0x"+hexSPI(p.SPI)+" (integrity only)" {
			t.Errorf("SA prints %q", got)
		}
	}
	if tn.UDP {
		t.Error("an AH tunnel marked UDP")
	}
}

func hexSPI(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

// EngineConfig hands an AH peer's proposals to the engine and never asks
// for UDP encapsulation for it, whatever ipsec.encapsulation says.
func TestEngineConfigAH(t *testing.T) {
	var cfg config.Config
	cfg.IPsec.Encapsulation = "udp"
	ahp := ikeparam.AHProposal{Integ: []ikeparam.Integ{ikeparam.IntegHMACSHA256128}}
	cfg.IPsec.IKEPeers = []config.IKEPeer{
		{Name: "esp", LocalAddress: netip.MustParseAddr("192.0.2.1"), RemoteAddress: netip.MustParseAddr("192.0.2.2")},
		{Name: "ah", LocalAddress: netip.MustParseAddr("192.0.2.1"), RemoteAddress: netip.MustParseAddr("192.0.2.3"),
			Protocol: config.ProtocolAH, AHProposals: []ikeparam.AHProposal{ahp}},
	}
	ec := EngineConfig(&cfg, nil)
	if p := ec.Peers[0]; len(p.AH) != 0 || !p.ForceUDPEncap {
		t.Errorf("ESP peer: AH %v, UDP %v", p.AH, p.ForceUDPEncap)
	}
	if p := ec.Peers[1]; len(p.AH) != 1 || p.AH[0].String() != "sha256" || p.ForceUDPEncap {
		t.Errorf("AH peer: AH %v, UDP %v", p.AH, p.ForceUDPEncap)
	}
}
