package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// TestAttachmentDocsAndMetrics: show ipsec attachments and the metrics
// report an up attachment with its gateway, negotiated selectors, SPIs
// and counters (ts-violation among the drops), a configured one that is
// down with its configured prefixes, and never a key.
func TestAttachmentDocsAndMetrics(t *testing.T) {
	b := statsBackend{Backend: fake.New(), stats: fib.Stats{
		Attachments: map[string]fib.AttachmentCounters{"site-red": {InPackets: 5, InBytes: 500, OutPackets: 4, OutBytes: 400, TSViolation: 3}},
	}}
	r := fib.NewReconciler(b, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	key := []byte("0123456789abcdef0123-secret")
	r.SetConfig(fib.Config{LocalAddress: netip.MustParseAddr("192.0.2.1"),
		VRFs: []fib.VRFConfig{{Name: "red"}, {Name: "blue"}},
		Attachments: []fib.Attachment{{Name: "site-red", VRF: "red", Remote: netip.MustParseAddrPort("10.0.9.2:4500"), UDP: true,
			Out:          &fib.SAParams{SPI: 0xc1, Cipher: esp.AES128GCM16, Key: key},
			In:           &fib.SAParams{SPI: 0xd1, Cipher: esp.AES128GCM16, Key: key},
			SitePrefixes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/25")}, LocalPrefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}}})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dp := newDataplane(r, b)
	dp.attachments = []configuredAttachment{
		{name: "site-red", vrf: "red", kind: config.AttachmentGateway, remote: netip.MustParseAddr("10.0.9.2"), site: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}},
		{name: "site-blue", vrf: "blue", kind: config.AttachmentGateway, site: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}},
	}
	docs := dp.attachmentDocs()
	js, _ := json.Marshal(docs)
	const want = `[{"name":"site-blue","vrf":"blue","kind":"gateway","state":"down","udp-encap":false,"site-ts":["10.9.0.0/24"],"local-ts":null,"in-packets":0,"in-bytes":0,"out-packets":0,"out-bytes":0,"drops":{}},` +
		`{"name":"site-red","vrf":"red","kind":"gateway","state":"up","gateway":"10.0.9.2:4500","configured-remote":"10.0.9.2","udp-encap":true,"site-ts":["10.9.0.0/25"],"local-ts":["0.0.0.0/0"],"out-spi":193,"in-spi":209,"cipher":"aes128gcm16","in-packets":5,"in-bytes":500,"out-packets":4,"out-bytes":400,"drops":{"ts-violation":3}}]`
	if string(js) != want {
		t.Errorf("docs:\n got %s\nwant %s", js, want)
	}
	if strings.Contains(string(js), "secret") || strings.Contains(string(js), "30313233") {
		t.Error("a key in the show output")
	}
	sas := dp.saDocs()
	if len(sas) != 2 || sas[0].Remote.String() != "10.0.9.2" || sas[0].Direction != "out" || sas[0].SPI != 0xc1 || sas[1].SPI != 0xd1 {
		t.Errorf("show ipsec sa: %+v", sas)
	}
	c := &collector{dp: dp}
	metrics := `
# HELP peregrine_ipsec_attachment_up 1 while an IPsec attachment has a child SA (its site prefixes are routed and exported), else 0.
# TYPE peregrine_ipsec_attachment_up gauge
peregrine_ipsec_attachment_up{attachment="site-blue",vrf="blue"} 0
peregrine_ipsec_attachment_up{attachment="site-red",vrf="red"} 1
# HELP peregrine_ipsec_attachment_drops_total Packets of an IPsec attachment dropped, by reason (ts-violation: outside the SA's traffic selectors).
# TYPE peregrine_ipsec_attachment_drops_total counter
peregrine_ipsec_attachment_drops_total{attachment="site-red",reason="ts-violation",vrf="red"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(metrics), "peregrine_ipsec_attachment_up", "peregrine_ipsec_attachment_drops_total"); err != nil {
		t.Error(err)
	}
}

// TestReloadAttachments: a reload that changes an attachment needs a
// restart; one that leaves them alone does not.
func TestReloadAttachments(t *testing.T) {
	dir := t.TempDir()
	load := func(prefix string) *config.Config {
		t.Helper()
		writeFile(t, dir, "gw.psk", "gateway-psk-0123456789")
		cfg, err := config.Load(writeFile(t, dir, "pe.yml", goodConfig+`ipsec: {local-address: 192.0.2.1}
vrfs:
  - name: red
    rd: 65000:1
    ipsec-attachments:
      - name: gw
        site-prefixes: [`+prefix+`]
        ike: {remote-address: 192.0.2.9, psk-file: gw.psk}
`))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := load("10.9.0.0/24")
	if err := restartNeeded(a, load("10.9.0.0/24"), runningDataplane{}); err != nil {
		t.Errorf("no change: %v", err)
	}
	err := restartNeeded(a, load("10.9.0.0/23"), runningDataplane{})
	if err == nil || !strings.Contains(err.Error(), "ipsec-attachments") {
		t.Errorf("changed site prefixes: %v", err)
	}
}

// TestAttachmentDocsPool: a pool is one line (up while a host holds a
// lease, with its ranges and lease count) and each connected host one
// more, with its identity, leased address, outer address and counters.
func TestAttachmentDocsPool(t *testing.T) {
	b := statsBackend{Backend: fake.New(), stats: fib.Stats{
		Attachments: map[string]fib.AttachmentCounters{"ra-red/10.77.0.1": {InPackets: 2, InBytes: 168, OutPackets: 1, OutBytes: 84}},
	}}
	r := fib.NewReconciler(b, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	key := []byte("0123456789abcdef0123-secret")
	r.SetConfig(fib.Config{LocalAddress: netip.MustParseAddr("192.0.2.1"),
		VRFs: []fib.VRFConfig{{Name: "red"}},
		Attachments: []fib.Attachment{{Name: "ra-red/10.77.0.1", VRF: "red", Pool: "ra-red", Client: "laptop.example",
			Remote: netip.MustParseAddrPort("198.51.100.7:4500"), UDP: true,
			Out:          &fib.SAParams{SPI: 0xc2, Cipher: esp.AES128GCM16, Key: key},
			In:           &fib.SAParams{SPI: 0xd2, Cipher: esp.AES128GCM16, Key: key},
			SitePrefixes: []netip.Prefix{netip.MustParsePrefix("10.77.0.1/32")}, LocalPrefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}}})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dp := newDataplane(r, b)
	var pool config.AddrPool
	if err := pool.UnmarshalText([]byte("10.77.0.0/24")); err != nil {
		t.Fatal(err)
	}
	dp.attachments = []configuredAttachment{
		{name: "ra-red", vrf: "red", kind: config.AttachmentPool, pool: pool, local: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}},
		{name: "ra-blue", vrf: "blue", kind: config.AttachmentPool, pool: pool},
	}
	js, _ := json.Marshal(dp.attachmentDocs())
	const want = `[{"name":"ra-blue","vrf":"blue","kind":"pool","state":"down","udp-encap":false,"site-ts":null,"local-ts":null,"in-packets":0,"in-bytes":0,"out-packets":0,"out-bytes":0,"drops":{},"pool":"10.77.0.1-10.77.0.254"},` +
		`{"name":"ra-red","vrf":"red","kind":"pool","state":"up","udp-encap":false,"site-ts":null,"local-ts":["0.0.0.0/0"],"in-packets":0,"in-bytes":0,"out-packets":0,"out-bytes":0,"drops":{},"pool":"10.77.0.1-10.77.0.254","leases":1},` +
		`{"name":"ra-red/10.77.0.1","vrf":"red","kind":"host","state":"up","gateway":"198.51.100.7:4500","udp-encap":true,"site-ts":["10.77.0.1/32"],"local-ts":["0.0.0.0/0"],"out-spi":194,"in-spi":210,"cipher":"aes128gcm16","in-packets":2,"in-bytes":168,"out-packets":1,"out-bytes":84,"drops":{},"client":"laptop.example","leased":"10.77.0.1"}]`
	if string(js) != want {
		t.Errorf("docs:\n got %s\nwant %s", js, want)
	}
}
