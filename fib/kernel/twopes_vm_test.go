package kernel

// The two-PE lab of the daemon tests in the VM, and what the tests that
// run peregrined on it share: its configurations (manual keys or IKEv2,
// over an IPv4 or an IPv6 core), the pings across it and the check that
// a child SA was rekeyed.
//
//	red1  10.1.0.2 --ce1--.                              .--ce3-- 10.2.0.2 red2
//	                       PE1 ==core 192.168.0.0/30== PE2
//	blue1 10.1.0.2 --ce2--'                              '--ce4-- 10.2.0.2 blue2
//
// (The CEs' IPv6 addresses are fd00:1::2 and fd00:2::2; the PEs' .1 and
// ::1 of each CE subnet.)

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// twoPEs is CE - PE1 - PE2 - CE in namespaces: the PEs share the core
// 192.168.0.0/30; red and blue CEs have the same addresses, 10.1.0.2 and
// fd00:1::2 behind PE1 (ce1, ce2), 10.2.0.2 and fd00:2::2 behind PE2 (ce3,
// ce4).
type twoPEs struct {
	pe1, pe2, red1, blue1, red2, blue2 netns.NsHandle
}

func newTwoPEs(t *testing.T) *twoPEs {
	n := newCEs(t)
	link(t, n.pe1, "core", "192.168.0.1/30", n.pe2, "core", "192.168.0.2/30")
	return n
}

// newCEs is newTwoPEs without the core: the PEs and their CEs, with
// IPv4 and IPv6 addresses and default routes.
func newCEs(t *testing.T) *twoPEs {
	n := newCEsIPv4(t)
	for _, a := range []struct {
		ns         netns.NsHandle
		ifn, addr  string
		defaultVia string
	}{
		{n.pe1, "ce1", "fd00:1::1/64", ""}, {n.pe1, "ce2", "fd00:1::1/64", ""},
		{n.pe2, "ce3", "fd00:2::1/64", ""}, {n.pe2, "ce4", "fd00:2::1/64", ""},
		{n.red1, "eth0", "fd00:1::2/64", "fd00:1::1"}, {n.blue1, "eth0", "fd00:1::2/64", "fd00:1::1"},
		{n.red2, "eth0", "fd00:2::2/64", "fd00:2::1"}, {n.blue2, "eth0", "fd00:2::2/64", "fd00:2::1"},
	} {
		h := handle(t, a.ns)
		l, err := h.LinkByName(a.ifn)
		if err == nil {
			ad, _ := netlink.ParseAddr(a.addr)
			ad.Flags = unix.IFA_F_NODAD
			err = h.AddrAdd(l, ad)
		}
		if err == nil && a.defaultVia != "" {
			err = h.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, Gw: net.ParseIP(a.defaultVia)})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", a.ifn, a.addr, err)
		}
	}
	return n
}

// newCEsIPv4 is newCEs with IPv4 alone: no IPv6 address or route on the
// CE links, for the tests that program the PEs themselves and compare
// their VRF tables with golden files.
func newCEsIPv4(t *testing.T) *twoPEs {
	n := &twoPEs{pe1: newNS(t), pe2: newNS(t), red1: newNS(t), blue1: newNS(t), red2: newNS(t), blue2: newNS(t)}
	link(t, n.pe1, "ce1", "10.1.0.1/24", n.red1, "eth0", "10.1.0.2/24")
	link(t, n.pe1, "ce2", "10.1.0.1/24", n.blue1, "eth0", "10.1.0.2/24")
	link(t, n.pe2, "ce3", "10.2.0.1/24", n.red2, "eth0", "10.2.0.2/24")
	link(t, n.pe2, "ce4", "10.2.0.1/24", n.blue2, "eth0", "10.2.0.2/24")
	defaultVia(t, n.red1, "10.1.0.1")
	defaultVia(t, n.blue1, "10.1.0.1")
	defaultVia(t, n.red2, "10.2.0.1")
	defaultVia(t, n.blue2, "10.2.0.1")
	return n
}

// pingAll waits up to within for a ping to cross in each VRF and
// direction, IPv4 and, if v6, IPv6.
func (n *twoPEs) pingAll(t *testing.T, id uint16, within time.Duration, v6 bool) {
	t.Helper()
	type dir struct {
		name string
		ns   netns.NsHandle
		dst  string
	}
	dirs := []dir{{"red 1->2", n.red1, "10.2.0.2"}, {"blue 1->2", n.blue1, "10.2.0.2"}, {"red 2->1", n.red2, "10.1.0.2"}, {"blue 2->1", n.blue2, "10.1.0.2"}}
	if v6 {
		dirs = append(dirs, dir{"red 1->2 IPv6", n.red1, "fd00:2::2"}, dir{"blue 1->2 IPv6", n.blue1, "fd00:2::2"},
			dir{"red 2->1 IPv6", n.red2, "fd00:1::2"}, dir{"blue 2->1 IPv6", n.blue2, "fd00:1::2"})
	}
	for _, c := range dirs {
		var err error
		for deadline := time.Now().Add(within); time.Now().Before(deadline); {
			if err = ping(c.ns, c.dst, id); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: no answer within %v: %v", c.name, within, err)
		}
	}
}

// pingEach pings over IPv4 from each CE its twin behind the other PE, in
// both VRFs and directions, up to tries times each (the first packets
// wait for ARP or neighbour discovery), and marks the test failed for
// each that gets no answer.
func (n *twoPEs) pingEach(t *testing.T, id uint16, tries int) {
	t.Helper()
	for _, c := range []struct {
		name string
		ns   netns.NsHandle
		dst  string
	}{{"red 1->2", n.red1, "10.2.0.2"}, {"blue 1->2", n.blue1, "10.2.0.2"}, {"red 2->1", n.red2, "10.1.0.2"}, {"blue 2->1", n.blue2, "10.1.0.2"}} {
		var err error
		for range tries {
			if err = ping(c.ns, c.dst, id); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// applyState programs s into ns with a backend that is closed at once,
// as a daemon that applies its state and exits would.
func applyState(t *testing.T, ns netns.NsHandle, s *fib.State) {
	t.Helper()
	b, err := New(nil, Options{NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Apply(context.Background(), s); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// manualESPConfigs writes the two manual keys into dir and returns each
// PE's peregrinedConfig with ipsec (espConfig, rawESPConfig) keyed by
// them, SPI 1002 from pe1 and 2001 from pe2, the control sockets in dir.
// The BGP session and the tunnel run between 192.168.0.1 and .2 or, with
// v6core, between fd00:c::1 and ::2 (the router IDs stay IPv4); the
// caller puts those addresses on the core.
func manualESPConfigs(t *testing.T, dir, ipsec string, v6core bool) (pe1, pe2 string) {
	t.Helper()
	k12, k21 := filepath.Join(dir, "pe1-pe2.key"), filepath.Join(dir, "pe2-pe1.key")
	for path, key := range map[string]string{k12: keyPE1toPE2, k21: keyPE2toPE1} {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	local1, local2 := "192.168.0.1", "192.168.0.2"
	if v6core {
		local1, local2 = "'fd00:c::1'", "'fd00:c::2'"
	}
	conf := func(id, local, sock, peer string, n int, ifRed, ifBlue, out, in string, outSPI, inSPI int) string {
		c := fmt.Sprintf(peregrinedConfig+ipsec, local, filepath.Join(dir, sock), peer, n, ifRed, ifBlue, out, in, outSPI, inSPI)
		// router.id must be IPv4; the session and tunnel use local.
		return strings.Replace(c, "router: {id: "+local, "router: {id: "+id, 1)
	}
	return conf("192.168.0.1", local1, "pe1.sock", local2, 1, "ce1", "ce2", k12, k21, 1002, 2001),
		conf("192.168.0.2", local2, "pe2.sock", local1, 2, "ce3", "ce4", k21, k12, 2001, 1002)
}

// startIKEPEs runs peregrined on both PEs with config (peregrinedConfig
// and ikeConfig, edited as the test needs), pe1 initiating, the PSK and
// control sockets in dir, and returns pe1's log.
func startIKEPEs(t *testing.T, n *twoPEs, dir, config string) (log1 string) {
	t.Helper()
	psk := filepath.Join(dir, "peer.psk")
	if err := os.WriteFile(psk, []byte("kernel-backend-ike-test-psk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := func(id, sock, peer string, n int, ifRed, ifBlue, name string, initiate bool) string {
		return fmt.Sprintf(config, id, filepath.Join(dir, sock), peer, n, ifRed, ifBlue, name, psk, initiate)
	}
	log1 = startPeregrined(t, n.pe1, "pe1", conf("192.168.0.1", "pe1.sock", "192.168.0.2", 1, "ce1", "ce2", "pe2", true))
	startPeregrined(t, n.pe2, "pe2", conf("192.168.0.2", "pe2.sock", "192.168.0.1", 2, "ce3", "ce4", "pe1", false))
	return log1
}

// checkChildRekeyed checks that IKEv2 replaced pe1's child SA (ikeConfig's
// soft lifetime is 4 s): the SPI of pe1's ESP on the core during a red
// ping (echo IDs id and id+2) differs 10 s later, when pings (id+1) cross
// again. raw reads IP protocol 50, else ESP in UDP 4500; MPLS in clear
// fails the test either way.
func (n *twoPEs) checkChildRekeyed(t *testing.T, id uint16, raw bool) {
	t.Helper()
	what := "ESP"
	if raw {
		what = "raw ESP"
	}
	before := n.spiFromPE1(t, id, raw)
	if before == 0 {
		t.Fatalf("no %s packet from pe1 on the core during a ping", what)
	}
	time.Sleep(10 * time.Second) // soft lifetime 4 s: two rekeys at least
	n.pingAll(t, id+1, 10*time.Second, true)
	after := n.spiFromPE1(t, id+2, raw)
	if after == 0 || after == before {
		t.Errorf("%s SPI from pe1 before %#x, 10 s later %#x: want a new child SA", what, before, after)
	}
}

// spiFromPE1 returns the SPI of the last ESP packet pe2 receives on the
// core while red1 pings red2 (0: none); see checkChildRekeyed.
func (n *twoPEs) spiFromPE1(t *testing.T, id uint16, raw bool) uint32 {
	t.Helper()
	frames := captureCore(t, n.pe2, "core", func() {
		if err := ping(n.red1, "10.2.0.2", id); err != nil {
			t.Errorf("red 1->2: %v", err)
		}
	})
	pkts, at := espOnCore(t, "red", frames), espAt
	if raw {
		pkts, at = rawESPOnCore(t, "red", frames), rawESPAt
	}
	var spi uint32
	for _, pkt := range pkts {
		spi = binary.BigEndian.Uint32(pkt[at:])
	}
	return spi
}

// espLabels pings red2 and blue2 from red1 and blue1 (echo IDs id and
// id+1, a few tries each: a daemon just restarted may still be
// relearning its routes) and opens pe1's ESP on the core (SPI 1002, raw
// or in UDP) with keyPE1toPE2, failing the test unless each VRF's ping
// crossed as ESP whose payload is one label over IPv4, or if MPLS
// crossed in clear. It returns the label found in each VRF's packets.
func (n *twoPEs) espLabels(t *testing.T, id uint16, raw bool) map[string]int {
	t.Helper()
	what, at, onCore := "ESP", espAt, espOnCore
	if raw {
		what, at, onCore = "raw ESP", rawESPAt, rawESPOnCore
	}
	key, _ := hex.DecodeString(keyPE1toPE2)
	labels := map[string]int{}
	for i, c := range []struct {
		vrf string
		ns  netns.NsHandle
	}{{"red", n.red1}, {"blue", n.blue1}} {
		frames := captureCore(t, n.pe2, "core", func() {
			var err error
			for range 5 {
				if err = ping(c.ns, "10.2.0.2", id+uint16(i)); err == nil {
					break
				}
			}
			if err != nil {
				t.Errorf("%s: %v", c.vrf, err)
			}
		})
		esps := 0
		for _, pkt := range onCore(t, c.vrf, frames) {
			if binary.BigEndian.Uint32(pkt[at:]) != 1002 {
				continue
			}
			esps++
			sa, err := esp.NewSA(esp.Config{SPI: 1002, Cipher: esp.AES128GCM16, Key: key, NoAntiReplay: true})
			if err != nil {
				t.Fatal(err)
			}
			payload, nh, err := sa.Open(pkt, at, len(pkt)-at)
			if err != nil {
				t.Errorf("%s: opening pe1's %s packet with pe1's key: %v", c.vrf, what, err)
				continue
			}
			if nh != esp.NextHeaderMPLS || len(payload) < 4+20 || payload[2]&1 == 0 || payload[4]>>4 != 4 {
				t.Errorf("%s: ESP payload is not one label over IPv4: next header %d, % x", c.vrf, nh, payload[:min(len(payload), 8)])
				continue
			}
			labels[c.vrf] = int(binary.BigEndian.Uint32(payload) >> 12)
		}
		if esps == 0 {
			t.Errorf("%s: no %s packet from pe1 (SPI 1002) on the core during a ping", c.vrf, what)
		}
	}
	return labels
}
