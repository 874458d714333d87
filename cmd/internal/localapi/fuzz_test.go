package localapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDocuments decodes arbitrary JSON as each document the CLI reads from
// the socket. A document that decodes must encode and decode again to the
// same value, so what the CLI shows is what peregrined sent.
func FuzzDocuments(f *testing.F) {
	for _, s := range []string{
		`[{"address":"192.0.2.2","asn":65000,"state":"established","uptime":5000000000,"families":[{"name":"vpnv4","received":1,"accepted":1,"sent":2}]}]`,
		`{"vrf":"red","routes":[{"prefix":"10.1.0.0/24","next-hop":"192.0.2.2","label":1000,"rd":"65000:1"},{"prefix":"fd00::/64","label":16,"rd":"1:1","local":true}]}`,
		`[{"remote":"192.0.2.2","direction":"in","spi":4097,"cipher":"aes128gcm16","esn":true,"anti-replay":true,"replay-window":64,"packets":3,"bytes":300,"drops":{"replay":1}}]`,
		`[{"name":"ce1","vrf":"red","kind":"ce","state":"up","mtu":1500,"addresses":["10.1.0.1/24"],"counters":{"out-packets":1,"out-drops":{"no-route":2}}}]`,
		`{"error":"no vrf \"x\""}`, `[{"rd":"65000:1","prefix":"10.1.0.0/24","route-targets":["65000:1"],"best":true,"neighbor":"::1"}]`,
		`[{"vrf":"red","address":"10.1.0.2","asn":65101,"state":"active","reason":"connection refused","families":[{"name":"ipv4","received":0,"accepted":0,"sent":0}],"flaps":3}]`,
		`{"vrf":"red","family":"ipv4","learned":[{"prefix":"10.3.0.0/24","next-hop":"10.1.0.2","neighbor":"10.1.0.2","origin":"i","as-path":"65101 {1,2}","med":0,"communities":["65101:7","no-export"],"best":true}],"advertised":[]}`,
		`{"core":{"drops":{"unknown-label":3,"open-failed":5},"unknown-spi":4,"truncated":1,"ike":7,"keepalives":2,"plain-mpls":11}}`, `{}`,
		`null`, `[]`, `{"prefix":"10.1.0.1/24"}`, `{"next-hop":"fe80::1%eth0"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newDoc := range []func() any{
			func() any { return new([]Neighbor) }, func() any { return new([]VRF) }, func() any { return new(VRFRoutes) },
			func() any { return new([]VPNPath) }, func() any { return new([]LabelEntry) }, func() any { return new([]SA) },
			func() any { return new([]Interface) }, func() any { return new(Error) },
			func() any { return new([]CENeighbor) }, func() any { return new(CERoutes) },
			func() any { return new(Dataplane) },
		} {
			v := newDoc()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T decoded from %q does not encode: %v", v, data, err)
			}
			again := newDoc()
			if err := json.Unmarshal(enc, again); err != nil {
				t.Fatalf("%T: own encoding %s does not decode: %v", v, enc, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%T changes in a round trip:\n input %q\nfirst  %+v\nsecond %+v", v, data, v, again)
			}
		}
	})
}
