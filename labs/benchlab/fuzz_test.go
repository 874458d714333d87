package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseIperf feeds iperf3 -J output to its parser: never a panic, and
// a measurement it accepts carries a positive rate and duration (the
// report divides by both).
func FuzzParseIperf(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/iperf3-*.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"end":{"sum_received":{"seconds":1,"bits_per_second":-1}}}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		m, err := parseIperf(out)
		if err != nil {
			return
		}
		if !(m.bps > 0) || !(m.seconds > 0) {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// FuzzParseTunDevices feeds `ip -d -j link show` output to its parser:
// never a panic, and only links of kind tun come back.
func FuzzParseTunDevices(f *testing.F) {
	f.Add([]byte(`[{"ifname":"pg-red","mtu":9000,"linkinfo":{"info_kind":"tun"}},{"ifname":"eth0","mtu":1500}]`))
	f.Add([]byte(`[{"ifname":"x","linkinfo":null}]`))
	f.Fuzz(func(t *testing.T, out []byte) {
		tuns, err := parseTunDevices(out)
		if err != nil && len(tuns) != 0 {
			t.Fatalf("error %v with %d devices", err, len(tuns))
		}
	})
}

// FuzzParseOutboundSAs feeds /v1/ipsec/sa documents to its parser: never
// a panic, only outbound SAs back, sorted by SPI.
func FuzzParseOutboundSAs(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/ipsec-sa-*.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"direction":"out","spi":4294967295},{"direction":"out","spi":0}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sas, err := parseOutboundSAs(b)
		if err != nil {
			return
		}
		for i, s := range sas {
			if s.Direction != "out" || i > 0 && sas[i-1].SPI > s.SPI {
				t.Fatalf("%q: %+v", b, sas)
			}
		}
	})
}
