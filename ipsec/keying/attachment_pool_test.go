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

// TestPoolHostsAreAttachments: two hosts of one pool are two
// fib.Attachments of the pool's VRF, each routing and opening its leased
// /32 alone; one leaving withdraws its address only.
func TestPoolHostsAreAttachments(t *testing.T) {
	rec := &fibRecorder{}
	var mu sync.Mutex
	var heard []map[string][]netip.Prefix
	s := start(t, Options{FIB: rec, ReplayWindow: 1024, RetireGrace: time.Millisecond,
		Attachments: map[string]AttachmentPeer{"ra-red": {VRF: "red"}},
		OnAttached: func(m map[string][]netip.Prefix) {
			mu.Lock()
			heard = append(heard, m)
			mu.Unlock()
		}})
	host := func(outer, leased string, in, out uint32) ike.ChildSA {
		c := testChild("ra-red", netip.MustParseAddr(outer), in, out, time.Now())
		c.Remote = netip.AddrPortFrom(netip.MustParseAddr(outer), 4500)
		c.Mode, c.UDPEncap = ike.Tunnel, true
		c.VirtualIP4, c.Client = netip.MustParseAddr(leased), "h-"+leased
		c.RemoteTS = []ike.TrafficSelector{ike.TSHost(c.VirtualIP4)}
		c.LocalTS = []ike.TrafficSelector{ike.TSFromPrefix(netip.MustParsePrefix("0.0.0.0/0"))}
		return c
	}
	h1, h2 := host("198.51.100.7", "10.77.0.1", 0xa1, 0xb1), host("198.51.100.7", "10.77.0.2", 0xa2, 0xb2)
	s.ChildUp(h1)
	s.ChildUp(h2)
	fc, _ := rec.config()
	if len(fc.Attachments) != 2 {
		t.Fatalf("attachments %+v", fc.Attachments)
	}
	byName := map[string]string{}
	for _, a := range fc.Attachments {
		byName[a.Name] = fmt.Sprintf("%s %s %v %s %x", a.VRF, a.Pool, a.SitePrefixes, a.Client, a.Out.SPI)
	}
	if byName["ra-red/10.77.0.1"] != "red ra-red [10.77.0.1/32] h-10.77.0.1 b1" || byName["ra-red/10.77.0.2"] != "red ra-red [10.77.0.2/32] h-10.77.0.2 b2" {
		t.Fatalf("hosts %v", byName)
	}
	s.ChildDown(h1)
	fc = s.config()
	if len(fc.Attachments) != 1 || fc.Attachments[0].Name != "ra-red/10.77.0.2" {
		t.Fatalf("after h1 left: %+v", fc.Attachments)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(heard); got != "[map[red:[10.77.0.1/32]] map[red:[10.77.0.1/32 10.77.0.2/32]] map[red:[10.77.0.2/32]]]" {
		t.Errorf("OnAttached heard %s", got)
	}
}

// A pool reaches the engine as a remote-access peer the engine accepts.
func TestEngineConfigPool(t *testing.T) {
	var cfg config.Config
	cfg.IPsec.LocalAddress = netip.MustParseAddr("10.0.0.1")
	no := false
	var pool config.AddrPool
	if err := pool.UnmarshalText([]byte("10.77.0.0/24")); err != nil {
		t.Fatal(err)
	}
	cfg.VRFs = []config.VRF{{Name: "red", IPsecAttachments: []config.IPsecAttachment{{
		Name: "ra-red", Kind: config.AttachmentPool, Pool: pool, RemoteIDs: []string{"laptop.example", "*.hosts.example"},
		LocalPrefixes: config.DefaultLocalPrefixes, DNS: []netip.Addr{netip.MustParseAddr("10.1.0.53")},
		IKE: config.IKEPeer{LocalAddress: cfg.IPsec.LocalAddress, Initiate: &no, PSK: config.NewSecret("0123456789abcdef0123")},
	}}}}
	ec := EngineConfig(&cfg, nil)
	p := ec.Peers[0]
	ra := p.RemoteAccess
	if p.Mode != ike.Tunnel || p.Initiate || len(p.RemoteTS) != 0 || ra == nil || ra.Pool4 == nil || ra.Pool6 != nil || len(ra.Clients) != 2 ||
		ra.Clients[0].ID != ike.FQDNIdentity("laptop.example") || ra.Clients[1].Suffix != ".hosts.example" {
		t.Fatalf("peer %+v ra %+v", p, ra)
	}
	if a, err := ra.Pool4.Lease("x"); err != nil || a != netip.MustParseAddr("10.77.0.1") {
		t.Fatalf("pool leases %v %v", a, err)
	}
	if _, err := ike.NewEngine(ec); err != nil {
		t.Fatalf("engine refuses the pool: %v", err)
	}
}
