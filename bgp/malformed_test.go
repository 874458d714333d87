package bgp

// A raw BGP peer sends a malformed UPDATE to pe1 while pe2 holds a normal
// session with it:
//
//	raw 127.0.0.3 (hand-built messages) --iBGP--> pe1 127.0.0.1 <--iBGP-- pe2 127.0.0.2
//
// pe1 must answer the raw peer with a NOTIFICATION (UPDATE Message Error)
// and close that session only; pe2's routes stay in pe1's VRF.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// bgpMessage frames a BGP message (RFC 4271 section 4.1).
func bgpMessage(typ byte, body []byte) []byte {
	m := make([]byte, 19, 19+len(body))
	for i := range 16 {
		m[i] = 0xff // marker
	}
	binary.BigEndian.PutUint16(m[16:], uint16(19+len(body)))
	m[18] = typ
	return append(m, body...)
}

func rawOpen(asn uint16, id [4]byte) []byte {
	caps := []byte{
		0x02, 0x06, // optional parameter: capabilities, length 6
		0x01, 0x04, 0x00, 0x01, 0x00, 0x80, // multiprotocol: AFI 1 (IPv4), SAFI 128 (MPLS VPN)
	}
	body := []byte{4, byte(asn >> 8), byte(asn), 0, 90} // version 4, AS, hold time 90
	body = append(body, id[:]...)
	body = append(body, byte(len(caps)))
	return bgpMessage(1, append(body, caps...))
}

func readMessage(c net.Conn) (typ byte, body []byte, err error) {
	hdr := make([]byte, 19)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[16:]))
	if n < 19 {
		return 0, nil, fmt.Errorf("bad length %d", n)
	}
	body = make([]byte, n-19)
	_, err = io.ReadFull(c, body)
	return hdr[18], body, err
}

func TestMalformedUpdateResetsOnlyThatSession(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	y := fmt.Sprintf(`
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-address: 127.0.0.1
  listen-port: %d
  api: ""
  neighbors:
    - {address: 127.0.0.2, port: %d, asn: 65000, local-address: 127.0.0.1, connect-retry: 1s}
    - {address: 127.0.0.3, asn: 65000, passive: true}
vrfs:
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1']}
`, p1, p2)
	cfg1, err := parseConfig([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	pe1 := startSpeaker(t, cfg1)
	startSpeaker(t, speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, `
  - {name: red, rd: '65000:11', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.2.0.0/24}]}
`))
	waitRoutes(t, pe1, "red", "10.2.0.0/24 via 127.0.0.2 label 1000 rd 65000:11; ")

	c := rawSession(t, pe1, "127.0.0.3", fmt.Sprintf("127.0.0.1:%d", p1))

	// UPDATE whose withdrawn-routes length (0x00ff) runs past the message:
	// RFC 4271 section 6.3 "Malformed Attribute List".
	malformed := bgpMessage(2, []byte{0x00, 0xff, 0x00, 0x00})
	if _, err := c.Write(malformed); err != nil {
		t.Fatal(err)
	}
	var notification []byte
	for {
		typ, body, err := readMessage(c)
		if err != nil {
			t.Fatalf("no NOTIFICATION before the session closed: %v", err)
		}
		if typ == 3 {
			notification = body
			break
		}
	}
	if len(notification) < 2 || notification[0] != 3 {
		t.Errorf("NOTIFICATION % x: want error code 3 (UPDATE Message Error)", notification)
	}
	if _, _, err := readMessage(c); err == nil {
		t.Error("session still open after NOTIFICATION")
	}

	// The other session and its routes are untouched.
	time.Sleep(500 * time.Millisecond) // give a wrongful reset time to show
	waitRoutes(t, pe1, "red", "10.2.0.0/24 via 127.0.0.2 label 1000 rd 65000:11; ")
	var state string
	_ = pe1.Server().ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetConf().GetNeighborAddress() == "127.0.0.2" {
			state = p.GetState().GetSessionState().String()
		}
	})
	if state != "ESTABLISHED" {
		t.Errorf("pe2 session %s after pe3's malformed UPDATE", state)
	}
}
