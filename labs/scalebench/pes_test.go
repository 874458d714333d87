package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/config"
)

// TestMeshConfigsPairUp loads every PE's configuration of a 16 x 50 lab
// with the product's own config loader and checks that each one-way SA
// is the same SA at both ends (the sender's out SPI and key are the
// receiver's in SPI and key) and that no two SAs share a key.
func TestMeshConfigsPairUp(t *testing.T) {
	const pes, vrfs = 16, 50
	dir := t.TempDir()
	if err := writeMeshKeys(dir, pes); err != nil {
		t.Fatal(err)
	}
	type sa struct {
		spi uint32
		key string
	}
	out := map[[2]int]sa{} // [from, to]
	in := map[[2]int]sa{}
	for p := 1; p <= pes; p++ {
		c, err := config.Parse([]byte(peMeshConfig(p, pes, vrfs, filepath.Join(dir, "pe.sock"), dir)))
		if err != nil {
			t.Fatalf("pe%d: %v", p, err)
		}
		if len(c.VRFs) != vrfs || len(c.IPsec.Tunnels) != pes-1 || len(c.BGP.Neighbors) != len(rrAddrs) {
			t.Fatalf("pe%d: %d VRFs, %d tunnels, %d neighbors; want %d, %d, %d", p,
				len(c.VRFs), len(c.IPsec.Tunnels), len(c.BGP.Neighbors), vrfs, pes-1, len(rrAddrs))
		}
		for _, tun := range c.IPsec.Tunnels {
			q := int(tun.Remote.As4()[3])
			if tun.IsAH() || tun.Remote != peCore(q) || q == p {
				t.Fatalf("pe%d: tunnel %v (AH %v)", p, tun.Remote, tun.IsAH())
			}
			out[[2]int{p, q}] = sa{tun.Out.SPI, string(tun.Out.Key.Bytes())}
			in[[2]int{q, p}] = sa{tun.In.SPI, string(tun.In.Key.Bytes())}
		}
	}
	keys := map[string][2]int{}
	for dirn, o := range out {
		if i, ok := in[dirn]; !ok || i != o {
			t.Errorf("SA pe%d -> pe%d: sender has spi %#x, receiver %#x (keys equal: %v)", dirn[0], dirn[1], o.spi, i.spi, i.key == o.key)
		}
		if other, dup := keys[o.key]; dup {
			t.Errorf("SAs %v and %v share a key", dirn, other)
		}
		keys[o.key] = dirn
	}
	if len(out) != pes*(pes-1) {
		t.Errorf("%d one-way SAs, want %d", len(out), pes*(pes-1))
	}
}

// TestMeshAddressing: within a VRF every PE's site is a different
// subnet; within a PE the VRFs that share the CE host namespace differ;
// the two sampled VRFs share their addresses; nothing overlaps the core.
func TestMeshAddressing(t *testing.T) {
	const pes, vrfs = maxPEs, maxVRFsPerPE
	core := netip.MustParsePrefix("10.255.0.0/24")
	for v := range vrfs {
		seen := map[netip.Prefix]int{}
		for p := 1; p <= pes; p++ {
			n := siteNet(p, v, vrfs)
			if q, dup := seen[n]; dup {
				t.Fatalf("VRF %d: pe%d and pe%d both %v", v, q, p, n)
			}
			seen[n] = p
			if n.Overlaps(core) {
				t.Fatalf("VRF %d pe%d: %v overlaps the core", v, p, n)
			}
		}
	}
	for p := 1; p <= pes; p++ {
		seen := map[netip.Prefix]int{}
		for v := 1; v < vrfs-1; v++ {
			n := siteNet(p, v, vrfs)
			if w, dup := seen[n]; dup {
				t.Fatalf("pe%d: VRFs %d and %d both %v in the CE host namespace", p, w, v, n)
			}
			seen[n] = v
		}
		if siteCE(p, 0, vrfs) != siteCE(p, vrfs-1, vrfs) {
			t.Fatalf("pe%d: sampled VRFs %v and %v, want the same addresses", p, siteCE(p, 0, vrfs), siteCE(p, vrfs-1, vrfs))
		}
	}
}

func TestParseRRCounters(t *testing.T) {
	b, err := os.ReadFile("testdata/frr-neighbors.json")
	if err != nil {
		t.Fatal(err)
	}
	// Two clients, each 5 UPDATEs sent and 3 received (FRR 8.4).
	c, err := parseRRCounters(b)
	if err != nil || c != (rrCounters{updatesRecv: 6, updatesSent: 10}) {
		t.Fatalf("got %+v, %v; want 6 received, 10 sent", c, err)
	}
	if _, err := parseRRCounters([]byte("% bgp not running")); err == nil {
		t.Fatal("no error for a non-JSON answer")
	}
}

// TestPingResultOK: a ping passes only with every reply, the echoes at
// the right CE and none at its twin in the other VRF.
func TestPingResultOK(t *testing.T) {
	good := pingResult{Sent: 3, Received: 3, DstEchos: 4}
	for _, c := range []struct {
		p    pingResult
		want bool
	}{
		{good, true},
		{pingResult{Sent: 3, Received: 2, DstEchos: 4}, false},
		{pingResult{Sent: 3, Received: 3, DstEchos: 4, Leaked: 1}, false},
		{pingResult{Sent: 3, Received: 3, DstEchos: 0}, false},
	} {
		if got := c.p.ok(); got != c.want {
			t.Errorf("%+v: ok %v, want %v", c.p, got, c.want)
		}
	}
}

func TestMedianOf(t *testing.T) {
	rows := []peRow{{RSS: 4}, {RSS: 1}, {RSS: 3}, {RSS: 2}}
	if med, mx := medianOf(rows, func(r peRow) int64 { return r.RSS }); med != 2 || mx != 4 {
		t.Fatalf("median %d max %d, want 2 and 4", med, mx)
	}
}

func FuzzParseRRCounters(f *testing.F) {
	b, err := os.ReadFile("testdata/frr-neighbors.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"x":{"messageStats":{"updatesSent":-1}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseRRCounters(b)
	})
}

// TestPeakUpdates: the peak is over windows of at least a second, so a
// burst between two ticks 0.25 s apart is spread over the second around
// it, never divided by a quarter second.
func TestPeakUpdates(t *testing.T) {
	at := func(ms int, in, out int64) tick {
		return tick{T: time.Duration(ms) * time.Millisecond, RR: []rrCounters{{updatesRecv: in, updatesSent: out}}}
	}
	ts := []tick{at(0, 0, 0), at(250, 0, 0), at(500, 0, 0), at(750, 100, 900), at(1000, 100, 900), at(2000, 100, 1900)}
	// Best window: 1000..2000 ms, 1000 UPDATEs; 0..1000 and 250..1250
	// also see 1000 but the 750 ms window is too short to count.
	if got := peakUpdates(ts, 0); got != 1000 {
		t.Fatalf("peak %v, want 1000", got)
	}
	if got := peakUpdates(ts, 1); got != 0 {
		t.Fatalf("peak of a missing RR %v, want 0", got)
	}
}

// TestMeshVerdict: the run fails on a lost ping, a leak into the other
// VRF, any plain packet on the core, or too few ESP packets.
func TestMeshVerdict(t *testing.T) {
	good := meshResult{Pings: []pingResult{{Sent: 3, Received: 3, DstEchos: 4}}, PingsOK: 1, IsolationOK: true, Wire: wireCounts{ESP: 16}}
	if !good.ok() {
		t.Fatal("good run failed")
	}
	for name, f := range map[string]func(*meshResult){
		"no pings":  func(r *meshResult) { r.Pings, r.PingsOK = nil, 0 },
		"lost ping": func(r *meshResult) { r.PingsOK = 0 },
		"leak":      func(r *meshResult) { r.IsolationOK = false },
		"plain":     func(r *meshResult) { r.Wire.Plain = 1 },
		"no ESP":    func(r *meshResult) { r.Wire.ESP = 11 },
	} {
		r := good
		f(&r)
		if r.ok() {
			t.Errorf("%s: run passed", name)
		}
	}
}
