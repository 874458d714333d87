package keying

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestAttachmentChildren: an attachment's child SAs become a
// fib.Attachment of its VRF (never a PE tunnel), with the narrowed
// selectors as prefixes and the gateway's address and port; OnAttached
// hears the site prefixes when the attachment comes up and an empty VRF
// when its last child goes (bgp withdraws them: fail closed). A rekey
// does not announce again.
func TestAttachmentChildren(t *testing.T) {
	gw := netip.MustParseAddr("10.0.9.2")
	rec := &fibRecorder{}
	var mu sync.Mutex
	var heard []map[string][]netip.Prefix
	s := start(t, Options{FIB: rec, ReplayWindow: 1024, RetireGrace: time.Millisecond,
		Remotes:     map[string]netip.Addr{"pe2": netip.MustParseAddr("192.0.2.2")},
		Attachments: map[string]AttachmentPeer{"site-red": {VRF: "red"}},
		OnAttached: func(m map[string][]netip.Prefix) {
			mu.Lock()
			heard = append(heard, m)
			mu.Unlock()
		}})
	c := testChild("site-red", gw, 0xa1, 0xb1, time.Now().Add(-time.Minute))
	c.Remote = netip.AddrPortFrom(gw, 33000) // behind a NAT
	c.Mode = ike.Tunnel
	c.RemoteTS = []ike.TrafficSelector{ike.TSFromPrefix(netip.MustParsePrefix("10.9.0.0/24"))}
	c.LocalTS = []ike.TrafficSelector{ike.TSFromPrefix(netip.MustParsePrefix("0.0.0.0/0"))}
	s.ChildUp(c)
	fc, _ := rec.config()
	if len(fc.Tunnels) != 0 || len(fc.Attachments) != 1 {
		t.Fatalf("tunnels %+v attachments %+v", fc.Tunnels, fc.Attachments)
	}
	a := fc.Attachments[0]
	if a.Name != "site-red" || a.VRF != "red" || a.Remote.String() != "10.0.9.2:33000" || !a.UDP ||
		a.Out == nil || a.Out.SPI != 0xb1 || a.In.SPI != 0xa1 ||
		fmt.Sprint(a.SitePrefixes) != "[10.9.0.0/24]" || fmt.Sprint(a.LocalPrefixes) != "[0.0.0.0/0]" {
		t.Fatalf("attachment %+v", a)
	}
	if got := fmt.Sprint(a.SiteSelectors, a.LocalSelectors); got != "[{10.9.0.0/24 0 0 65535}] [{0.0.0.0/0 0 0 65535}]" {
		t.Errorf("selectors %s, want any protocol and port", got)
	}
	c2 := c
	c2.InSPI, c2.OutSPI, c2.Created, c2.Replaces = 0xa2, 0xb2, time.Now(), 0xa1
	s.ChildUp(c2)
	s.ChildDown(c)
	s.ChildDown(c2)
	deadline := time.Now().Add(5 * time.Second)
	for fc := s.config(); len(fc.Attachments) != 0; fc = s.config() {
		if fc.Attachments[0].Out != nil || time.Now().After(deadline) {
			t.Fatalf("attachment left after its children went: %+v", fc.Attachments)
		}
		time.Sleep(time.Millisecond) // the rekeyed-away child's retire grace
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(heard); got != "[map[red:[10.9.0.0/24]] map[]]" {
		t.Errorf("OnAttached heard %s", got)
	}
}

// TestTSSelectors: a narrowed selector's protocol and ports go with
// each prefix its address range splits into, for the dataplane.
func TestTSSelectors(t *testing.T) {
	tss := []ike.TrafficSelector{
		{Protocol: 6, StartPort: 443, EndPort: 443, Start: netip.MustParseAddr("10.9.0.1"), End: netip.MustParseAddr("10.9.0.3")},
		{Protocol: 1, StartPort: 0x0800, EndPort: 0x08ff, Start: netip.MustParseAddr("10.9.0.0"), End: netip.MustParseAddr("10.9.0.255")},
		ike.TSFromPrefix(netip.MustParsePrefix("fd00:9::/64")),
	}
	got := fmt.Sprint(tsSelectors(tss))
	want := "[{10.9.0.1/32 6 443 443} {10.9.0.2/31 6 443 443} {10.9.0.0/24 1 2048 2303} {fd00:9::/64 0 0 65535}]"
	if got != want {
		t.Errorf("selectors %s, want %s", got, want)
	}
}

func TestRangePrefixes(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{"10.9.0.0", "10.9.0.255", "[10.9.0.0/24]"},
		{"10.9.0.1", "10.9.0.6", "[10.9.0.1/32 10.9.0.2/31 10.9.0.4/31 10.9.0.6/32]"},
		{"0.0.0.0", "255.255.255.255", "[0.0.0.0/0]"},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "[::/0]"},
		{"10.0.0.5", "10.0.0.4", "[]"},
	} {
		got := fmt.Sprint(rangePrefixes(netip.MustParseAddr(c.from), netip.MustParseAddr(c.to)))
		if got != c.want {
			t.Errorf("%s-%s: %s, want %s", c.from, c.to, got, c.want)
		}
	}
}

// An attachment reaches the engine in tunnel mode with its site prefixes
// as the remote selectors and does not initiate by default; the engine
// accepts it.
func TestEngineConfigAttachment(t *testing.T) {
	var cfg config.Config
	cfg.IPsec.LocalAddress = netip.MustParseAddr("10.0.0.1")
	no := false
	cfg.VRFs = []config.VRF{{Name: "red", IPsecAttachments: []config.IPsecAttachment{{
		Name: "site-red", Kind: config.AttachmentGateway,
		SitePrefixes:  []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")},
		LocalPrefixes: config.DefaultLocalPrefixes,
		IKE: config.IKEPeer{LocalAddress: cfg.IPsec.LocalAddress, RemoteID: "gw.example", Initiate: &no,
			PSK: config.NewSecret("0123456789abcdef0123")},
	}}}}
	ec := EngineConfig(&cfg, nil)
	p := ec.Peers[0]
	if p.Name != "site-red" || p.Mode != ike.Tunnel || p.Initiate || len(p.RemoteTS) != 1 || p.RemoteTS[0].Start.String() != "10.9.0.0" || len(p.LocalTS) != 2 {
		t.Fatalf("peer %+v", p)
	}
	if _, err := ike.NewEngine(ec); err != nil {
		t.Fatalf("engine refuses the attachment: %v", err)
	}
	if m := Attachments(&cfg); m["site-red"].VRF != "red" {
		t.Errorf("Attachments: %v", m)
	}
}
