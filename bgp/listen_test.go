package bgp

// Two speakers on IPv6 loopback, on different ports (issue 24):
//
//	pe1 [::1]:P1, listen-address unset, passive  <-- iBGP over IPv6 --  pe2 [::1]:P2, connects
//	  red 10.1.0.0/24 (VPNv4), fd00:1::/64 (VPNv6)                        imports both via ::1
//
// pe1 only accepts, so the session comes up only if the default listener
// takes IPv6. The VPNv4 route crosses an IPv6 session, so its next hop is
// IPv6: RFC 8950's extended next hop, which GoBGP encodes and decodes.

import (
	"fmt"
	"net"
	"testing"

	"github.com/peregrine-net/peregrine/config"
)

func TestDefaultListenerTakesIPv6AndVPNv4GetsIPv6NextHop(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	if !ipv6Available() {
		t.Skip("no IPv6 on this host")
	}
	p1, p2 := freePort6(t), freePort6(t)
	vrf := func(rd string, prefixes ...string) string {
		s := fmt.Sprintf("  - {name: red, rd: '%s', import-targets: ['65000:1'], export-targets: ['65000:1'], static-routes: [", rd)
		for i, p := range prefixes {
			if i > 0 {
				s += ", "
			}
			s += "{prefix: '" + p + "'}"
		}
		return s + "]}\n"
	}
	parse := func(y string) *config.Config {
		cfg, err := config.Parse([]byte(y))
		if err != nil {
			t.Fatalf("config: %v\n%s", err, y)
		}
		return cfg
	}
	pe1 := parse(fmt.Sprintf(`
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-port: %d
  api: ""
  neighbors:
    - {address: '::1', port: %d, asn: 65000, passive: true, hold-time: 9s}
vrfs:
%s`, p1, p2, vrf("65000:1", "10.1.0.0/24", "fd00:1::/64")))
	if pe1.BGP.ListenAddress.IsValid() {
		t.Fatalf("test wants the default listen address, config has %s", pe1.BGP.ListenAddress)
	}
	pe2 := parse(fmt.Sprintf(`
router: {id: 2.2.2.2, asn: 65000}
bgp:
  listen-address: '::1'
  listen-port: %d
  api: ""
  neighbors:
    - {address: '::1', port: %d, asn: 65000, connect-retry: 1s, hold-time: 9s}
vrfs:
%s`, p2, p1, vrf("65000:2", "10.2.0.0/24")))
	startSpeaker(t, pe1)
	s2 := startSpeaker(t, pe2)
	waitRoutes(t, s2, "red", "10.1.0.0/24 via ::1 label 1000 rd 65000:1; fd00:1::/64 via ::1 label 1000 rd 65000:1; ")
}

func freePort6(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("cannot listen on [::1]: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
