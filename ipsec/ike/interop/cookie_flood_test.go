package interop

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// floodAddr is the flooding client's source: strongSwan's own address
// (other ports), as an attacker spoofing a configured peer would use. From
// an unconfigured address Peregrine answers NO_PROPOSAL_CHOSEN and keeps
// no state at all, which tests nothing about cookies.
var floodAddr = swAddr

// TestCookieFloodWithStrongSwan establishes an SA with strongSwan, then
// sends Peregrine 2000 IKE_SA_INIT requests with distinct initiator SPIs
// from 40 other source ports of strongSwan's address. Past CookieThreshold (64)
// half-open SAs Peregrine must answer with a COOKIE notify and create no
// more state, while strongSwan's SA keeps carrying a 50 ms ping without
// loss and keeps answering Peregrine's 1 s DPD.
func TestCookieFloodWithStrongSwan(t *testing.T) {
	_, s, pe := setup(t)
	s.load(t, goodPSK)
	r, ech, events := peregrineDPD(t, pe, goodPSK, true, time.Second)
	wait(t, events, ike.ChildUp)
	pingThrough(t, s, ech)

	var ikeDown atomic.Int64
	stop, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case ev := <-events:
				if ev.Kind == ike.IKEDown || ev.Kind == ike.ChildDown {
					ikeDown.Add(1)
				}
			case <-stop:
				return
			}
		}
	}()
	dpdBefore := strings.Count(s.log(), "parsed INFORMATIONAL request")

	// A genuine IKE_SA_INIT request from a throwaway engine is the
	// template; each copy gets its own SPIi.
	template := saInitTemplate(t)
	const sockets, total = 40, 2000
	conns := make([]*net.UDPConn, sockets)
	if err := netns.Do(s.node.Namespace(), func() error {
		for i := range conns {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(floodAddr, 0)))
			if err != nil {
				return err
			}
			conns[i] = c
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var cookies, plain, other atomic.Int64
	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 4096)
			for {
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				switch classifyInitResponse(buf[:n]) {
				case "cookie":
					cookies.Add(1)
				case "plain":
					plain.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}

	pingDone := make(chan string, 1)
	go func() { // the established peer's traffic during the flood
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := s.node.Exec(ctx, "ping", "-c", "100", "-i", "0.05", "-W", "1", "-I", "10.1.0.1", "10.2.0.1")
		if err != nil {
			pingDone <- fmt.Sprintf("error %v: %s", err, out)
			return
		}
		pingDone <- string(out)
	}()

	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peAddr, 500))
	start := time.Now()
	for i := range total {
		msg := append([]byte(nil), template...)
		binary.BigEndian.PutUint64(msg, rand.Uint64()|1)
		if _, err := conns[i%sockets].WriteToUDP(msg, to); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(20 * time.Millisecond) // bursts, not a socket-buffer overflow test
		}
	}
	sent := time.Since(start)
	readers.Wait()
	for _, c := range conns {
		c.Close()
	}
	pingOut := <-pingDone
	time.Sleep(2 * time.Second) // two more DPD intervals after the flood
	close(stop)
	<-drained

	unanswered := total - cookies.Load() - plain.Load() - other.Load()
	t.Logf("flood: %d IKE_SA_INIT requests from %d ports in %v; responses: %d with COOKIE, %d without (half-open SAs), %d other, %d unanswered (dropped in socket buffers)",
		total, sockets, sent.Round(time.Millisecond), cookies.Load(), plain.Load(), other.Load(), unanswered)
	// Requests lost in a full socket buffer (likely under -race on a
	// busy machine) say nothing about cookies; what was answered must be
	// cookies, bar the first 64.
	if cookies.Load() < total/4 {
		t.Errorf("only %d of %d requests were answered with a COOKIE", cookies.Load(), total)
	}
	if plain.Load() > 70 {
		t.Errorf("%d requests got a full IKE_SA_INIT response: the cookie threshold (64) did not hold", plain.Load())
	}
	summary := pingOut
	if i := strings.Index(summary, "---"); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("established peer's ping during the flood: %s", strings.ReplaceAll(summary, "\n", " | "))
	if !strings.Contains(pingOut, "100 packets transmitted, 100 received") {
		t.Errorf("the established peer lost pings during the flood")
	}
	dpd := strings.Count(s.log(), "parsed INFORMATIONAL request") - dpdBefore
	t.Logf("strongSwan answered %d DPD requests during and after the flood", dpd)
	if dpd < 2 {
		t.Errorf("strongSwan saw only %d DPD requests", dpd)
	}
	if ikeDown.Load() != 0 {
		t.Errorf("%d SAs went down during the flood", ikeDown.Load())
	}
	var sas []ike.SAInfo
	if err := r.Do(context.Background(), func(e *ike.Engine) { sas = e.SAs() }); err != nil {
		t.Fatal(err)
	}
	t.Logf("Peregrine's IKE SAs after the flood: %d (the established one and the half-open ones)", len(sas))
	if len(sas) > 1+64 {
		t.Errorf("%d IKE SAs after the flood: state grew past the cookie threshold", len(sas))
	}
}

// saInitTemplate returns the IKE_SA_INIT request an engine initiating from
// floodAddr to Peregrine sends.
func saInitTemplate(t *testing.T) []byte {
	t.Helper()
	e, err := ike.NewEngine(ike.Config{Peers: []ike.PeerConfig{{
		Name: "flood", LocalAddr: floodAddr, RemoteAddr: peAddr, PSK: ike.NewPSK([]byte("flood-client-psk-unused-0123456")),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Initiate("flood"); err != nil {
		t.Fatal(err)
	}
	out := e.Output()
	if len(out) != 1 {
		t.Fatalf("engine sent %d datagrams, want 1 IKE_SA_INIT", len(out))
	}
	return out[0].Data
}

// classifyInitResponse says whether b is an IKE_SA_INIT response carrying
// a COOKIE notify ("cookie"), one without ("plain"), or anything else.
func classifyInitResponse(b []byte) string {
	m, err := ike.ParseMessage(b)
	if err != nil || m.Exchange != ike.IKESAInit || !m.IsResponse() {
		return "other"
	}
	for _, p := range m.Payloads {
		if p.Type != ike.PayloadNotify {
			continue
		}
		n, err := ike.ParseNotify(p.Body)
		if err == nil && n.Type == ike.NotifyCookie {
			return "cookie"
		}
	}
	return "plain"
}
