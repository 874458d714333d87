package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// TestShowAHSAs: `show ipsec sa` (JSON) says protocol ah and integrity
// only for an AH tunnel's SAs, with the transform and the counters; an
// ESP tunnel's say esp; the metrics carry AH's counters as ESP's; never a
// key.
func TestShowAHSAs(t *testing.T) {
	peAH, peESP := netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.2")
	b := statsBackend{Backend: fake.New(), stats: fib.Stats{SAs: []fib.SACounters{
		{Remote: peAH, Outbound: true, SPI: 0x1003, AH: ah.HMACSHA256128, Counters: esp.Counters{SealedPackets: 7, SealedBytes: 700}},
		{Remote: peAH, SPI: 0x2003, AH: ah.HMACSHA256128, Counters: esp.Counters{OpenedPackets: 6, OpenedBytes: 600, AuthFailed: 2, Replayed: 1}},
	}}}
	r := fib.NewReconciler(b, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	hk := []byte("0123456789abcdef0123456789abcdef-secret")[:32]
	gk := []byte("0123456789abcdef0123-secret")[:20]
	r.SetConfig(fib.Config{LocalAddress: netip.MustParseAddr("192.0.2.1"), Tunnels: []fib.Tunnel{
		{Remote: peAH, Out: &fib.SAParams{SPI: 0x1003, AH: ah.HMACSHA256128, Key: hk}, In: &fib.SAParams{SPI: 0x2003, AH: ah.HMACSHA256128, Key: hk}},
		{Remote: peESP, Out: &fib.SAParams{SPI: 0x1002, Cipher: esp.AES128GCM16, Key: gk}, In: &fib.SAParams{SPI: 0x2002, Cipher: esp.AES128GCM16, Key: gk}},
	}})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dp := newDataplane(r, b)
	js, _ := json.Marshal(dp.saDocs())
	const want = `[{"remote":"192.0.2.2","direction":"out","spi":4098,"protocol":"esp","cipher":"aes128gcm16","esn":false,"anti-replay":true,"packets":0,"bytes":0,"drops":{}},` +
		`{"remote":"192.0.2.2","direction":"in","spi":8194,"protocol":"esp","cipher":"aes128gcm16","esn":false,"anti-replay":true,"replay-window":1024,"packets":0,"bytes":0,"drops":{}},` +
		`{"remote":"192.0.2.3","direction":"out","spi":4099,"protocol":"ah","integrity-only":true,"cipher":"hmac-sha256-128","esn":false,"anti-replay":true,"packets":7,"bytes":700,"drops":{}},` +
		`{"remote":"192.0.2.3","direction":"in","spi":8195,"protocol":"ah","integrity-only":true,"cipher":"hmac-sha256-128","esn":false,"anti-replay":true,"replay-window":1024,"packets":6,"bytes":600,"drops":{"auth-failed":2,"replayed":1}}]`
	if string(js) != want {
		t.Errorf("show ipsec sa:\n got %s\nwant %s", js, want)
	}
	if strings.Contains(string(js), "secret") || strings.Contains(string(js), "30313233") {
		t.Error("a key in the show output")
	}
	metrics := `
# HELP peregrine_ipsec_sa_drops_total Packets an SA refused, by reason.
# TYPE peregrine_ipsec_sa_drops_total counter
peregrine_ipsec_sa_drops_total{direction="in",reason="auth-failed",remote="192.0.2.3",spi="0x00002003"} 2
peregrine_ipsec_sa_drops_total{direction="in",reason="replayed",remote="192.0.2.3",spi="0x00002003"} 1
`
	if err := testutil.CollectAndCompare(&collector{dp: dp}, strings.NewReader(metrics), "peregrine_ipsec_sa_drops_total"); err != nil {
		t.Error(err)
	}
}

// TestAHTunnelWarning: the start-up log has a warning line per AH tunnel
// saying integrity only and labels and customer packets in the clear, and
// none for an ESP tunnel; fibConfig makes its SAs AH over IP protocol 51.
func TestAHTunnelWarning(t *testing.T) {
	cfg := &config.Config{IPsec: config.IPsec{Encapsulation: "udp", Tunnels: []config.Tunnel{
		{Remote: netip.MustParseAddr("192.0.2.2"), Out: config.SA{SPI: 0x1002, Cipher: esp.AES128GCM16}, In: config.SA{SPI: 0x2002, Cipher: esp.AES128GCM16}},
		{Remote: netip.MustParseAddr("192.0.2.3"), Protocol: "ah", Out: config.SA{SPI: 0x1003, Integrity: ah.AES128GMAC}, In: config.SA{SPI: 0x2003, Integrity: ah.HMACSHA256128}},
	}}}
	var buf bytes.Buffer
	logProtection(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "integrity only") ||
		!strings.Contains(lines[0], "in the clear") || !strings.Contains(lines[0], "remote=192.0.2.3") {
		t.Errorf("log:\n%s", buf.String())
	}
	fc := fibConfig(cfg)
	if ah := fc.Tunnels[1]; ah.UDP || !ah.Out.IsAH() || !ah.In.IsAH() || ah.Out.Cipher != 0 || ah.In.NoAntiReplay {
		t.Errorf("AH tunnel in the FIB: %+v", ah)
	}
	if e := fc.Tunnels[0]; !e.UDP || e.Out.IsAH() {
		t.Errorf("ESP tunnel in the FIB: %+v", e)
	}
}
