package interop

// Topology (each box a network namespace the test creates):
//
//	+---------------------------------+          +----------------------------------+
//	| sw: strongSwan 5.9.8            |          | pe: Peregrine's ike.Runner on    |
//	|     charon-systemd,             |          |     UDP 500, esptransport on     |
//	|     kernel-libipsec (ipsec0)    |          |     4500 (opened in pe)          |
//	| 10.1.0.1/32 on lo  (behind sw)  |          | 10.2.0.0/24 behind pe: answered  |
//	| sw0 192.0.2.1/24 ---------------+----------+ pe0 192.0.2.2/24 by the echoer   |
//	+---------------------------------+          +----------------------------------+
//
// Child SA: tunnel mode, 10.1.0.0/24 === 10.2.0.0/24, no ESN (kernel-libipsec
// refuses ESN: "IPsec SA: ESN not supported"). kernel-libipsec
// requires UDP encapsulation, so strongSwan fakes its NAT detection hash
// and both ends move to port 4500: the IKE_AUTH and all ESP travel there.
// "ping -I 10.1.0.1 10.2.0.1" in sw goes through ipsec0, strongSwan seals
// it with the child SA, the echoer in pe opens it with the keys Peregrine
// negotiated and seals the reply with Peregrine's outbound SA; strongSwan
// opening that reply is what makes ping succeed. Port 4500 belongs to
// esptransport, as in peregrined: its receiver hands IKE to the runner
// (HandleNATT) and ESP to the echoer.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"github.com/peregrine-net/peregrine/labs/netns"
)

var (
	swAddr = netip.MustParseAddr("192.0.2.1")
	peAddr = netip.MustParseAddr("192.0.2.2")
)

const goodPSK = "interop-test-psk-0123456789abcdef"

// peregrine starts a Runner in pe with the given PSK; events arrive on the
// returned channel.
func peregrine(t *testing.T, pe *netns.Node, psk string, initiate bool) (*ike.Runner, *echoer, chan ike.Event) {
	return peregrineDPD(t, pe, psk, initiate, 0)
}

func peregrineDPD(t *testing.T, pe *netns.Node, psk string, initiate bool, dpd time.Duration) (*ike.Runner, *echoer, chan ike.Event) {
	return peregrineWith(t, pe, psk, initiate, dpd,
		ike.IKEProposal{Encr: []ike.Encr{ike.AES256GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHCurve25519}},
		ike.ESPProposal{Encr: []ike.Encr{ike.AES256GCM16}, DH: []ike.DHGroup{ike.DHCurve25519}})
}

// peregrineWith is peregrine with chosen proposals; mods adjust the peer
// configuration further (lifetimes, for example).
func peregrineWith(t *testing.T, pe *netns.Node, psk string, initiate bool, dpd time.Duration, ikeP ike.IKEProposal, espP ike.ESPProposal, mods ...func(*ike.PeerConfig)) (*ike.Runner, *echoer, chan ike.Event) {
	t.Helper()
	cfg := ike.Config{
		Logger: slogTo(t, peregrineLog),
		Peers: []ike.PeerConfig{{
			Name: "sw", LocalAddr: peAddr, RemoteAddr: swAddr, PSK: ike.NewPSK([]byte(psk)),
			IKE:         []ike.IKEProposal{ikeP},
			ESP:         []ike.ESPProposal{espP},
			Mode:        ike.Tunnel,
			LocalTS:     []ike.TrafficSelector{ike.TSFromPrefix(netip.MustParsePrefix("10.2.0.0/24"))},
			RemoteTS:    []ike.TrafficSelector{ike.TSFromPrefix(netip.MustParsePrefix("10.1.0.0/24"))},
			Initiate:    initiate,
			DPDInterval: dpd,
		}},
	}
	for _, m := range mods {
		m(&cfg.Peers[0])
	}
	e, err := ike.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		c500  *net.UDPConn
		socks *esptransport.Sockets
	)
	err = netns.Do(pe.Namespace(), func() error {
		var err error
		if c500, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peAddr, 500))); err != nil {
			return err
		}
		if socks, err = esptransport.Open(peAddr, nil); err != nil {
			c500.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ike.NewRunnerSharedNATT(e, c500, socks.SendIKE)
	if err != nil {
		t.Fatal(err)
	}
	ech := &echoer{send: socks.UDP.WriteTo}
	received := make(chan struct{})
	go func() {
		defer close(received)
		_ = socks.UDP.Receive([][]byte{make([]byte, 65536)}, esp.ScratchLen, natt{r, ech})
	}()
	events := make(chan ike.Event, 32)
	r.OnChildSA(func(c ike.ChildSA) {
		if c.AH.IsValid() {
			return // negotiated only: the echoer speaks ESP (ah_test.go)
		}
		if err := ech.install(c); err != nil {
			t.Errorf("installing %v: %v", c, err)
		}
	})
	r.OnChildSADeleted(ech.remove)
	r.OnEvent(func(ev ike.Event) { events <- ev })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; socks.Close(); <-received })
	return r, ech, events
}

// natt is esptransport's Handler on pe's port 4500: IKE to the runner,
// ESP to the echoer.
type natt struct {
	r   *ike.Runner
	ech *echoer
}

func (n natt) ESP(buf []byte, off, l int, from netip.AddrPort, _ bool) {
	n.ech.handle(buf[off:off+l], from)
}

func (n natt) Control(d esptransport.Datagram) {
	if d.Kind == wire.KindIKE {
		n.r.HandleNATT(d.From, d.Body)
	}
}

func (n natt) Flush() {}

// peregrineLog, when set by a test, receives a copy of the runners' logs.
var peregrineLog *logRecorder

func wait(t *testing.T, events chan ike.Event, kind ike.EventKind) ike.Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// checkSAs asserts swanctl --list-sas shows the IKE and child SA with the
// agreed proposals and returns its output.
func checkSAs(t *testing.T, s *swan, c ike.ChildSA) string {
	t.Helper()
	return checkSAsWith(t, s, c, "AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519", "ESP:AES_GCM_16-256")
}

func checkSAsWith(t *testing.T, s *swan, c ike.ChildSA, ikeSuite, espSuite string) string {
	t.Helper()
	var out string
	eventually(t, 5*time.Second, func() error {
		var err error
		out, err = s.swanctl("--list-sas")
		if err != nil {
			return err
		}
		for _, want := range []string{"ESTABLISHED", ikeSuite, "INSTALLED, TUNNEL-in-UDP", espSuite,
			"local  10.1.0.0/24", "remote 10.2.0.0/24",
			fmt.Sprintf("in  %08x", c.OutSPI), fmt.Sprintf("out %08x", c.InSPI)} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("swanctl --list-sas lacks %q:\n%s", want, out)
			}
		}
		return nil
	})
	t.Logf("swanctl --list-sas:\n%s", out)
	return out
}

// pingThrough pings an address behind Peregrine from strongSwan's side.
func pingThrough(t *testing.T, s *swan, ech *echoer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := s.node.Exec(ctx, "ping", "-c", "3", "-W", "2", "-I", "10.1.0.1", "10.2.0.1")
	t.Logf("ping:\n%s", out)
	if err != nil {
		t.Fatalf("ping through the tunnel failed: %v (opened %d, replied %d, failed %d)", err, ech.opened.Load(), ech.replied.Load(), ech.failed.Load())
	}
	if ech.opened.Load() < 3 || ech.replied.Load() < 3 {
		t.Fatalf("echoer opened %d, replied %d", ech.opened.Load(), ech.replied.Load())
	}
	ech.opened.Store(0)
	ech.replied.Store(0)
}

func TestPeregrineInitiatesToStrongSwan(t *testing.T) {
	_, s, pe := setup(t)
	s.load(t, goodPSK)
	_, ech, events := peregrine(t, pe, goodPSK, true)
	ev := wait(t, events, ike.ChildUp)
	t.Logf("child SA: %v", ev.Child)
	if !ev.Child.UDPEncap || ev.Child.Remote.Port() != 4500 {
		t.Fatalf("expected ESP in UDP 4500 with kernel-libipsec: %v", ev.Child)
	}
	checkSAs(t, s, ev.Child)
	pingThrough(t, s, ech)
}

func TestStrongSwanInitiatesToPeregrine(t *testing.T) {
	_, s, pe := setup(t)
	s.load(t, goodPSK)
	_, ech, events := peregrine(t, pe, goodPSK, false)
	if out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s\n%s", err, out, s.log())
	}
	ev := wait(t, events, ike.ChildUp)
	checkSAs(t, s, ev.Child)
	pingThrough(t, s, ech)
}

func TestWrongPSKWithStrongSwan(t *testing.T) {
	_, s, pe := setup(t)
	const swanPSK = "not-the-same-psk-0123456789abcdef"
	s.load(t, swanPSK)
	rec := &logRecorder{}
	peregrineLog = rec
	t.Cleanup(func() {
		peregrineLog = nil
		// Neither PSK may appear in any log: Peregrine's, charon's, or
		// charon's stdout/stderr.
		logs := map[string]string{"peregrine": rec.String(), "charon.log": s.log()}
		if b, err := os.ReadFile(filepath.Join(s.node.Lab().Dir(), "sw-charon.log")); err == nil {
			logs["charon stdout"] = string(b)
		}
		for name, l := range logs {
			for _, psk := range []string{goodPSK, swanPSK} {
				if strings.Contains(l, psk) {
					t.Errorf("%s log contains a PSK", name)
				}
			}
		}
		n := strings.Count(logs["peregrine"], `msg="IKE authentication failed"`)
		t.Logf("Peregrine logged %d \"IKE authentication failed\" lines; no PSK in %d logs (%d bytes)", n, len(logs), len(logs["peregrine"])+len(logs["charon.log"]))
		if n < 2 {
			t.Errorf("Peregrine logged %d authentication failures, want one per direction", n)
		}
	})
	t.Run("peregrine initiates", func(t *testing.T) {
		_, _, events := peregrine(t, pe, goodPSK, true)
		ev := wait(t, events, ike.AuthFailed)
		t.Logf("event: %v", ev.Err)
		if strings.Contains(ev.Err.Error(), goodPSK) {
			t.Fatal("the error shows the PSK")
		}
		out, _ := s.swanctl("--list-sas")
		if strings.Contains(out, "ESTABLISHED") {
			t.Fatalf("strongSwan has an SA:\n%s", out)
		}
		if !strings.Contains(s.log(), "N(AUTH_FAILED)") {
			t.Errorf("strongSwan did not send or log AUTHENTICATION_FAILED")
		}
	})
	t.Run("strongswan initiates", func(t *testing.T) {
		_, _, events := peregrine(t, pe, goodPSK, false)
		out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10")
		if err == nil {
			t.Fatalf("swanctl --initiate succeeded with the wrong PSK:\n%s", out)
		}
		wait(t, events, ike.AuthFailed)
		if !strings.Contains(out, "received AUTHENTICATION_FAILED notify error") {
			t.Fatalf("strongSwan did not see AUTHENTICATION_FAILED:\n%s", out)
		}
		if out, _ := s.swanctl("--list-sas"); strings.Contains(out, "ESTABLISHED") {
			t.Fatalf("strongSwan has an SA:\n%s", out)
		}
	})
}
