package kernel

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// attachPool is a remote-access pool in red for attachPEConfig, in
// place of attachGateway: %[1]s the PSK file.
const attachPool = `      - name: ra-red
        kind: pool
        pool: 10.77.0.0/24
        remote-ids: [host.example]
        ike: {psk-file: %[1]s, esp-proposals: [aes256-sha256-noesn]}
`

// TestPeregrinedPoolAttachmentKernel: a remote-access host (kind: pool)
// under the kernel backend, its SA AES-256-CBC with HMAC-SHA-256. The host, the VM kernel's XFRM keyed by an
// ipsec/ike initiator that asks for an address, is leased one from red's
// pool; pe1 routes that address alone through pga-red, and the host,
// from it, pings red's CE, while blue's CE at the same address sees
// nothing and the link carries only IKE and ESP.
//
//	host 192.168.9.6, leased 10.77.0.x (XFRM) ══ hst 192.168.9.5 pe1 ─ce1─ red1  10.1.0.2
//	                                                                ─ce2─ blue1 10.1.0.2
func TestPeregrinedPoolAttachmentKernel(t *testing.T) {
	requirePeregrined(t)
	pe1, red1, blue1 := newAttachCEs(t)
	host := newNS(t)
	link(t, pe1, "hst", "192.168.9.5/30", host, "eth0", "192.168.9.6/30")
	// The PE's address on the link is ipsec.local-address.
	if err := handle(t, pe1).AddrAdd(mustLink(t, pe1, "hst"), mustAddr(t, "192.168.9.1/32")); err != nil {
		t.Fatal(err)
	}
	defaultVia(t, host, "192.168.9.5")
	startAttachPE(t, pe1, attachPool)

	child, _, _ := startInitiator(t, host, ike.PeerConfig{
		Name: "pe1", LocalAddr: netip.MustParseAddr("192.168.9.6"), RemoteAddr: netip.MustParseAddr("192.168.9.1"),
		LocalID: ike.FQDNIdentity("host.example"), RequestAddress: true,
		LocalTS:  []ike.TrafficSelector{ike.TSFromPrefix(pfx("0.0.0.0/0"))},
		RemoteTS: []ike.TrafficSelector{ike.TSFromPrefix(pfx("0.0.0.0/0"))},
	}, "aes256-sha256-noesn", func(c ike.ChildSA) netip.Prefix { return netip.PrefixFrom(c.VirtualIP4, 32) }, false)
	if child.Cipher != esp.AES256CBCSHA256 {
		t.Fatalf("child SA %v, want AES-256-CBC with HMAC-SHA-256", child)
	}
	vip := child.VirtualIP4
	if !pfx("10.77.0.0/24").Contains(vip) {
		t.Fatalf("leased %v, want an address of 10.77.0.0/24", vip)
	}
	if err := handle(t, host).AddrAdd(mustLink(t, host, "lo"), mustAddr(t, vip.String()+"/32")); err != nil {
		t.Fatal(err)
	}

	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err = pingFrom(host, vip, "10.1.0.2", 81); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("host %v -> red's CE through the pool: %v\nvrf red:\n%s", vip, err, vrfKernelRoutes(t, pe1, "vrf-red"))
	}
	if routes := vrfKernelRoutes(t, pe1, "vrf-red"); !strings.Contains(routes, vip.String()+" dev pga-red") {
		t.Errorf("vrf red has no route to the leased address through pga-red:\n%s", routes)
	}
	// Path MTU under AES-CBC, whose overhead exceeds an AEAD's: pga-red
	// lets 1400 bytes through, the SA carries fewer; the Gateway answers
	// from red's CE address, in the VRF.
	if typ, code, mtu, err := probe(red1, vip.String(), 83, 1400); err != nil || typ != 3 || code != 4 || mtu >= 1400 || mtu < 1300 {
		t.Errorf("a 1400-byte DF echo to the host under AES-CBC: ICMP type %d code %d mtu %d, %v; want fragmentation needed, mtu under 1400", typ, code, mtu, err)
	}
	var toBlue, toRed []frame
	onLink := captureFrames(t, pe1, "hst", true, func() {
		toBlue = captureCore(t, blue1, "eth0", func() {
			toRed = captureCore(t, red1, "eth0", func() {
				if err := pingFrom(host, vip, "10.1.0.2", 82); err != nil {
					t.Errorf("host -> red's CE: %v", err)
				}
			})
		})
	})
	if echoesFrom(toRed, vip.String()) == 0 {
		t.Error("red's CE got no echo request from the host")
	}
	if n := echoesFrom(toBlue, vip.String()); n != 0 {
		t.Errorf("blue's CE got %d echo requests from red's host", n)
	}
	if esps := onlyIKEAndESP(t, "pe1-host link", onLink); esps["192.168.9.1"] == 0 || esps["192.168.9.6"] == 0 {
		t.Errorf("ESP packets on the link during a ping, by source: %v; want both ways", esps)
	}
}
