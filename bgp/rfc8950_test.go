package bgp

// RFC 8950 (extended next hop) between Peregrine's embedded GoBGP v3.37.0
// and a hand-made peer on IPv6 loopback, at the wire:
//
//	peregrine [::1]:P (vpnv4, passive) <── TCP ── test peer [::1], OPEN without capability 5
//
// What it shows about GoBGP v3.37.0 (pkg/server/fsm.go
// capabilitiesFromConfig, internal/pkg/table/path.go UpdatePathAttrs):
//   - it offers the extended next hop capability (code 5) for VPNv4 with
//     next hop AFI IPv6 on every session;
//   - it sends a VPNv4 route over an IPv6 session with a 24-byte (RD +
//     IPv6) next hop even when the peer did not offer the capability,
//     which RFC 8950 section 4 forbids: it does not negotiate per session.
// Peregrine cannot change GoBGP's encoding; it says so per neighbor
// instead (extendedNextHopReason, in show bgp summary). If a GoBGP upgrade starts to
// honour the negotiation, the second check fails and that code can go.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

func TestGoBGPSendsIPv6NextHopWithoutExtendedNextHopCapability(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	if !ipv6Available() {
		t.Skip("no IPv6 on this host")
	}
	port := freePort6(t)
	cfg, err := parseConfig([]byte(fmt.Sprintf(`
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-port: %d
  api: ""
  neighbors:
    - {address: '::1', asn: 65000, passive: true, families: [vpnv4], hold-time: 9s}
vrfs:
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'], static-routes: [{prefix: 10.1.0.0/24}]}
`, port)))
	if err != nil {
		t.Fatal(err)
	}
	s := startSpeaker(t, cfg)

	var conn net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		if conn, err = net.Dial("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))

	// Our OPEN: VPNv4 and four-octet AS, no capability 5.
	open := gobgp.NewBGPOpenMessage(65000, 9, "2.2.2.2", []gobgp.OptionParameterInterface{
		gobgp.NewOptionParameterCapability([]gobgp.ParameterCapabilityInterface{
			gobgp.NewCapMultiProtocol(gobgp.RF_IPv4_VPN),
			gobgp.NewCapFourOctetASNumber(65000),
		}),
	})
	writeMsg(t, conn, open)

	var sawCap5, sentKeepalive bool
	for {
		m, raw := readMsg(t, conn)
		switch b := m.Body.(type) {
		case *gobgp.BGPOpen:
			for _, p := range b.OptParams {
				c, ok := p.(*gobgp.OptionParameterCapability)
				if !ok {
					continue
				}
				for _, cp := range c.Capability {
					if enh, ok := cp.(*gobgp.CapExtendedNexthop); ok {
						for _, tu := range enh.Tuples {
							if tu.NLRIAFI == gobgp.AFI_IP && tu.NLRISAFI == uint16(gobgp.SAFI_MPLS_VPN) && tu.NexthopAFI == gobgp.AFI_IP6 {
								sawCap5 = true
							}
						}
					}
				}
			}
			if !sawCap5 {
				t.Errorf("GoBGP's OPEN offers no extended next hop for VPNv4 (AFI 1, SAFI 128, next hop AFI 2)")
			}
		case *gobgp.BGPKeepAlive:
			if !sentKeepalive {
				writeMsg(t, conn, gobgp.NewBGPKeepAliveMessage())
				sentKeepalive = true
			}
		case *gobgp.BGPUpdate:
			afi, safi, nh, ok := mpReachNextHop(raw)
			if !ok || afi != gobgp.AFI_IP || safi != gobgp.SAFI_MPLS_VPN {
				continue
			}
			t.Logf("VPNv4 UPDATE to a peer without capability 5: next hop length %d, % x", len(nh), nh)
			if len(nh) != 24 {
				t.Errorf("next hop length %d: GoBGP no longer sends an RD + IPv6 next hop to a peer without RFC 8950; extendedNextHopReason may be obsolete", len(nh))
			} else if a := netip.AddrFrom16([16]byte(nh[8:])); a != netip.IPv6Loopback() {
				t.Errorf("next hop %s, want ::1 (the session's local address)", a)
			}
			// Peregrine says so for this neighbor.
			var reason string
			err := s.Server().ListPeer(context.Background(), &api.ListPeerRequest{Address: "::1"}, func(p *api.Peer) { reason = s.PeerReason(p) })
			if err != nil || !strings.Contains(reason, "did not offer RFC 8950 extended next hop for VPNv4") {
				t.Errorf("PeerReason = %q, %v; want the missing extended next hop named", reason, err)
			}
			return
		}
	}
}

// mpReachNextHop finds MP_REACH_NLRI in a raw UPDATE message and returns
// its AFI, SAFI and next hop bytes as they were on the wire:
//
//	header (19) | withdrawn length (2) | withdrawn | attributes length (2) | attributes
//	attribute: flags (1) | type (1) | length (1, or 2 with flag 0x10) | value
//	MP_REACH_NLRI (14) value: AFI (2) | SAFI (1) | next hop length (1) | next hop | ...
func mpReachNextHop(msg []byte) (afi uint16, safi uint8, nh []byte, ok bool) {
	b := msg[gobgp.BGP_HEADER_LENGTH:]
	if len(b) < 2 {
		return 0, 0, nil, false
	}
	wl := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+wl+2 {
		return 0, 0, nil, false
	}
	b = b[2+wl:]
	al := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < al {
		return 0, 0, nil, false
	}
	b = b[:al]
	for len(b) >= 3 {
		flags, typ := b[0], b[1]
		var l, h int
		if flags&0x10 != 0 {
			if len(b) < 4 {
				return 0, 0, nil, false
			}
			l, h = int(binary.BigEndian.Uint16(b[2:])), 4
		} else {
			l, h = int(b[2]), 3
		}
		if len(b) < h+l {
			return 0, 0, nil, false
		}
		v := b[h : h+l]
		if typ == 14 && len(v) >= 4 && len(v) >= 4+int(v[3]) {
			return binary.BigEndian.Uint16(v), v[2], v[4 : 4+int(v[3])], true
		}
		b = b[h+l:]
	}
	return 0, 0, nil, false
}

func writeMsg(t *testing.T, w io.Writer, m *gobgp.BGPMessage) {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}

func readMsg(t *testing.T, r io.Reader) (*gobgp.BGPMessage, []byte) {
	t.Helper()
	hdr := make([]byte, gobgp.BGP_HEADER_LENGTH)
	if _, err := io.ReadFull(r, hdr); err != nil {
		t.Fatalf("reading a BGP header: %v", err)
	}
	n := binary.BigEndian.Uint16(hdr[16:18])
	body := make([]byte, int(n)-gobgp.BGP_HEADER_LENGTH)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("reading a BGP message: %v", err)
	}
	raw := append(hdr, body...)
	m, err := gobgp.ParseBGPMessage(raw)
	if err != nil {
		t.Fatalf("parsing a BGP message: %v", err)
	}
	if nt, ok := m.Body.(*gobgp.BGPNotification); ok {
		t.Fatalf("NOTIFICATION %d/%d from GoBGP", nt.ErrorCode, nt.ErrorSubcode)
	}
	return m, raw
}
