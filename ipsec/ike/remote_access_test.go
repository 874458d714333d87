package ike

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/leases"
)

// raPool is a remote-access responder at addrB leasing from pool to
// *.hosts.example and laptop.example.
func raPool(pool *leases.Pool) PeerConfig {
	return PeerConfig{Name: "ra", LocalAddr: addrB, PSK: testPSK(), Mode: Tunnel, DPDInterval: 30 * time.Second,
		LocalTS: []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.1.0.0/16"))},
		RemoteAccess: &RemoteAccess{
			Clients: []ClientID{{Suffix: ".hosts.example"}, {ID: FQDNIdentity("laptop.example")}},
			Pool4:   pool, DNS: []netip.Addr{netip.MustParseAddr("10.1.0.53"), netip.MustParseAddr("fd00::53")},
		}}
}

// raHost is a host at addrA calling itself id, asking for an address.
func raHost(id string, ask bool) PeerConfig {
	h := peerCfg("pe", addrA, addrB, true)
	h.LocalID, h.RemoteID, h.Mode, h.RequestAddress = FQDNIdentity(id), AddrIdentity(addrB), Tunnel, ask
	h.LocalTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("0.0.0.0/0"))}
	h.RemoteTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.1.0.0/16"))}
	return h
}

func mustLeases(t *testing.T, first, last string) *leases.Pool {
	t.Helper()
	p, err := leases.New(netip.MustParseAddr(first), netip.MustParseAddr(last))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func notified(evs []Event) string {
	for _, e := range evs {
		if e.Err != nil {
			return e.Err.Error()
		}
	}
	return ""
}

// A host asks for an address and gets the pool's first, with the DNS
// server of its family; its selectors are narrowed to that address; the
// address goes back to the pool when the IKE SA is deleted, and a second
// host then gets one again.
func TestRemoteAccessLeaseAndRelease(t *testing.T) {
	pool := mustLeases(t, "10.77.0.1", "10.77.0.1")
	p := newPair(t, raHost("h1.hosts.example", true), raPool(pool), nil)
	host, pe := p.up()
	want := netip.MustParseAddr("10.77.0.1")
	if pe.VirtualIP4 != want || host.VirtualIP4 != want || pe.Client != "h1.hosts.example" {
		t.Fatalf("leased: responder %v (%q), host %v", pe.VirtualIP4, pe.Client, host.VirtualIP4)
	}
	if len(pe.RemoteTS) != 1 || pe.RemoteTS[0] != TSHost(want) || len(host.LocalTS) != 1 || host.LocalTS[0] != TSHost(want) {
		t.Fatalf("selectors not narrowed to the lease: responder remote %v, host local %v", pe.RemoteTS, host.LocalTS)
	}
	if ls := pool.Leases(); len(ls) != 1 || ls[0].Addr != want {
		t.Fatalf("pool leases %v", ls)
	}

	// The pool is full: a second host (its own engine on the same pool)
	// is refused with INTERNAL_ADDRESS_FAILURE and gets no child.
	p2 := newPair(t, raHost("laptop.example", true), raPool(pool), nil)
	p2.a.Start()
	p2.run()
	if k := kinds(p2.evB); k[ChildUp] != 0 || k[IKEUp] != 1 {
		t.Fatalf("second host on a full pool: responder events %v", k)
	}
	if k := kinds(p2.evA); k[ChildUp] != 0 {
		t.Fatalf("second host got a child: %v", k)
	}

	if err := p.a.Delete("pe"); err != nil {
		t.Fatal(err)
	}
	p.run()
	if ls := pool.Leases(); len(ls) != 0 {
		t.Fatalf("lease kept after the IKE SA's delete: %v", ls)
	}
	if k := kinds(p.evB); k[ChildDown] != 1 || k[IKEDown] != 1 {
		t.Fatalf("responder events after delete %v", k)
	}
	p3 := newPair(t, raHost("laptop.example", true), raPool(pool), nil)
	if _, pe3 := p3.up(); pe3.VirtualIP4 != want {
		t.Fatalf("after release: %v", pe3.VirtualIP4)
	}
}

// A dead host's lease (DPD gives up) goes back to the pool.
func TestRemoteAccessReleaseOnDPD(t *testing.T) {
	pool := mustLeases(t, "10.77.0.1", "10.77.0.9")
	p := newPair(t, raHost("h1.hosts.example", true), raPool(pool), func(c *Config) { c.Tries = 2 })
	p.up()
	p.drop = func(Datagram) bool { return true }
	for range 20 {
		p.advance(30 * time.Second)
	}
	if ls := pool.Leases(); len(ls) != 0 {
		t.Fatalf("lease kept after DPD: %v (responder events %v)", ls, kinds(p.evB))
	}
}

// Who is not among the clients fails authentication; a client that asks
// for no address gets FAILED_CP_REQUIRED and no child; neither holds a
// lease.
func TestRemoteAccessRefusals(t *testing.T) {
	pool := mustLeases(t, "10.77.0.1", "10.77.0.9")
	p := newPair(t, raHost("h1.other.example", true), raPool(pool), nil)
	p.a.Start()
	p.run()
	if k := kinds(p.evB); k[AuthFailed] != 1 || k[ChildUp] != 0 {
		t.Fatalf("stranger: responder events %v", k)
	}
	p = newPair(t, raHost("h1.hosts.example", false), raPool(pool), nil)
	p.a.Start()
	p.run()
	if k := kinds(p.evB); k[ChildUp] != 0 {
		t.Fatalf("no CP: responder events %v", k)
	}
	if err := notified(p.evA); err == "" {
		t.Logf("host events %v", kinds(p.evA))
	}
	if ls := pool.Leases(); len(ls) != 0 {
		t.Fatalf("leases %v", ls)
	}
}

func TestRemoteAccessAdmits(t *testing.T) {
	ra := &RemoteAccess{Clients: []ClientID{{Suffix: ".hosts.example"}, {Suffix: "@example.com"}, {ID: AddrIdentity(addrC)}}}
	for _, c := range []struct {
		id   ID
		want bool
	}{
		{ID{Type: IDFQDN, Data: []byte("a.hosts.example")}, true},
		{ID{Type: IDFQDN, Data: []byte("A.Hosts.Example")}, true},
		{ID{Type: IDFQDN, Data: []byte(".hosts.example")}, false},
		{ID{Type: IDFQDN, Data: []byte("ahosts.example")}, false},
		{ID{Type: IDRFC822, Data: []byte("a.hosts.example")}, false},
		{ID{Type: IDRFC822, Data: []byte("bob@example.com")}, true},
		{ID{Type: IDFQDN, Data: []byte("bob@example.com")}, false},
		{ID{Type: IDIPv4, Data: addrC.AsSlice()}, true},
		{ID{Type: IDIPv4, Data: addrA.AsSlice()}, false},
		{ID{Type: IDIPv6, Data: addrC.AsSlice()}, false},
	} {
		if got := ra.admits(c.id); got != c.want {
			t.Errorf("%v %q: %v", c.id.Type, c.id.Data, got)
		}
	}
}

// With certificates, a host's certificate must name the identity it
// claims (one of the clients): a certificate of the CA for another
// client does not let a host pass as this one.
func TestRemoteAccessCert(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	pe := raPool(mustLeases(t, "10.77.0.1", "10.77.0.9"))
	lp, kp := ca.leaf(t, "pe", leafOpts{ips: []net.IP{ipB}})
	pe.PSK, pe.Cert = PSK{}, certAuth(lp, kp, ca)
	for _, tc := range []struct {
		name, certName string
		up             bool
	}{{"own certificate", "h1.hosts.example", true}, {"another client's certificate", "h2.hosts.example", false}} {
		t.Run(tc.name, func(t *testing.T) {
			h := raHost("h1.hosts.example", true)
			lh, kh := ca.leaf(t, tc.certName, leafOpts{dns: []string{tc.certName}})
			h.PSK, h.Cert = PSK{}, certAuth(lh, kh, ca)
			p := newPair(t, h, pe, nil)
			p.a.Start()
			p.run()
			kb := kinds(p.evB)
			if up := kb[ChildUp] == 1 && kb[AuthFailed] == 0; up != tc.up {
				t.Fatalf("responder events %v, want up %v", kb, tc.up)
			}
			if tc.up {
				if c := childUps(p.evB)[0]; c.VirtualIP4 != netip.MustParseAddr("10.77.0.1") && c.VirtualIP4 != netip.MustParseAddr("10.77.0.2") {
					t.Fatalf("lease %v", c.VirtualIP4)
				}
				return
			}
			// The one lease is the first case's host's.
			if len(pe.RemoteAccess.Pool4.(*leases.Pool).Leases()) != 1 {
				t.Fatalf("refused host holds a lease: %v", pe.RemoteAccess.Pool4.(*leases.Pool).Leases())
			}
		})
	}
}

// A host that connects again with INITIAL_CONTACT (after a reboot) has
// its older IKE SA dropped at once, children and lease with it.
func TestRemoteAccessInitialContact(t *testing.T) {
	pool := mustLeases(t, "10.77.0.1", "10.77.0.9")
	h := raHost("h1.hosts.example", true)
	p := newPair(t, h, raPool(pool), nil)
	p.up()
	if err := p.a.Initiate("pe"); err != nil { // a second IKE SA: IKE_AUTH carries INITIAL_CONTACT
		t.Fatal(err)
	}
	p.run()
	if ls := pool.Leases(); len(ls) != 1 || ls[0].Addr != netip.MustParseAddr("10.77.0.2") {
		t.Fatalf("leases after the reconnect %v, want only the new one", ls)
	}
	if sas := p.b.SAs(); len(sas) != 1 {
		t.Fatalf("responder keeps %d IKE SAs", len(sas))
	}
	if k := kinds(p.evB); k[ChildUp] != 2 || k[ChildDown] != 1 || k[IKEDown] != 1 {
		t.Fatalf("responder events %v", k)
	}
}

// The lease follows the host's IKE SA through an IKE rekey (either side
// starting it) and is released when the successor is deleted.
func TestRemoteAccessLeaseFollowsIKERekey(t *testing.T) {
	for _, who := range []string{"host", "pool"} {
		t.Run(who, func(t *testing.T) {
			pool := mustLeases(t, "10.77.0.1", "10.77.0.9")
			p := newPair(t, raHost("h1.hosts.example", true), raPool(pool), nil)
			p.up()
			before := pool.Leases()
			e, name := p.a, "pe"
			if who == "pool" {
				e, name = p.b, "ra"
			}
			if err := e.RekeyIKE(name); err != nil {
				t.Fatal(err)
			}
			p.run()
			sas := p.b.SAs()
			if len(sas) != 1 || len(sas[0].Children) != 1 || sas[0].Children[0].VirtualIP4 != netip.MustParseAddr("10.77.0.1") {
				t.Fatalf("after the rekey: responder SAs %+v", sas)
			}
			if after := pool.Leases(); len(after) != 1 || after[0] != before[0] {
				t.Fatalf("leases %v -> %v", before, after)
			}
			if err := p.a.Delete("pe"); err != nil {
				t.Fatal(err)
			}
			p.run()
			if ls := pool.Leases(); len(ls) != 0 {
				t.Fatalf("lease kept after the rekeyed SA's delete: %v", ls)
			}
		})
	}
}

// TestAnswerCP: the CFG_REPLY carries what was asked for: the leased
// IPv4 address always, the IPv6 one only with a pool6 and when asked,
// and the DNS servers of the families asked, in the configured order; a
// CFG_REQUEST that fails on IPv6 leaves no IPv4 lease behind.
func TestAnswerCP(t *testing.T) {
	e, err := NewEngine(Config{Peers: []PeerConfig{raHost("x.hosts.example", true)}})
	if err != nil {
		t.Fatal(err)
	}
	pool4, pool6 := mustLeases(t, "10.77.0.1", "10.77.0.9"), mustLeases(t, "fd00:77::1", "fd00:77::1")
	pc := raPool(pool4)
	pc.RemoteAccess.Pool6 = pool6
	req := func(attrs ...CFGAttrType) *Message {
		cp := CP{Type: CFGRequest}
		for _, a := range attrs {
			cp.Attrs = append(cp.Attrs, CFGAttr{Type: a})
		}
		return &Message{Payloads: []Payload{cp.Payload()}}
	}
	for _, tc := range []struct {
		name string
		spi  uint64
		m    *Message
		want string
		fail NotifyType
	}{
		{"v4 and its DNS", 1, req(AttrInternalIP4Address, AttrInternalIP4DNS), "[1:10.77.0.1 3:10.1.0.53]", 0},
		{"both families", 2, req(AttrInternalIP4Address, AttrInternalIP6Address, AttrInternalIP4DNS, AttrInternalIP6DNS), "[1:10.77.0.2 8:fd00:77::1 3:10.1.0.53 10:fd00::53]", 0},
		{"v6 pool empty", 3, req(AttrInternalIP4Address, AttrInternalIP6Address), "", NotifyInternalAddressFailure},
		{"no CP", 4, &Message{}, "", NotifyFailedCPRequired},
		{"a reply is no request", 5, &Message{Payloads: []Payload{CP{Type: CFGReply}.Payload()}}, "", NotifyInvalidSyntax},
	} {
		sa := &ikeSA{e: e, peer: &pc, spiI: tc.spi, client: FQDNIdentity("x.hosts.example")}
		p, nerr := sa.answerCP(tc.m)
		if tc.fail != 0 {
			if nerr == nil || nerr.Type != tc.fail || sa.lease != nil {
				t.Errorf("%s: %v, lease %v; want %v", tc.name, nerr, sa.lease, tc.fail)
			}
			continue
		}
		cp, err := ParseCP(p.Body)
		if nerr != nil || err != nil || cp.Type != CFGReply {
			t.Fatalf("%s: %v %v %+v", tc.name, nerr, err, cp)
		}
		var got []string
		for _, a := range cp.Attrs {
			got = append(got, fmt.Sprintf("%d:%v", a.Type, a.Addr()))
		}
		if s := fmt.Sprint(got); s != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, s, tc.want)
		}
	}
	if ls := pool4.Leases(); len(ls) != 2 {
		t.Errorf("v4 leases %v: the failed IPv6 request must give its IPv4 address back", ls)
	}
}
