package interop_test

// The E2E lab with the PE-to-PE SAs keyed by IKEv2 between the two
// peregrined (no static keys): pe1 initiates, pe2 answers. Child SAs live
// a few seconds, so they are rekeyed many times while a CE pings the
// other side every 50 ms: the make-before-break path of the daemon and the
// userspace dataplane, checked by the ping losing nothing. A TCP transfer
// then crosses the 1 MB soft-bytes limit, which the daemon enforces from
// the dataplane's per-SA byte counters.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

const e2eIKEPSK = "e2e-ike-psk-do-not-log-0123456789"

const e2eIKEConfig = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: %[2]s, asn: 65000, local-address: %[1]s, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - {name: red, rd: '65000:%[3]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[4]s]}
  - {name: blue, rd: '65000:%[3]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[5]s]}
ipsec:
  local-address: %[1]s
  ike-peers:
    - name: %[6]s
      remote-address: %[2]s
      psk-file: peer.psk
      initiate: %[7]v
      child-lifetime: {soft: 3s, hard: 20s, soft-bytes: 1000000, hard-bytes: 10000000000}
      ike-lifetime: {soft: 12s, hard: 60s}
      dpd-interval: 2s
`

func writePSKFile(t *testing.T, node *netns.Node, psk string) {
	t.Helper()
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-peregrined")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "peer.psk"), []byte(psk+"\n"), 0o600))
}

func TestE2EIKE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		writePSKFile(t, pe1, e2eIKEPSK)
		writePSKFile(t, pe2, e2eIKEPSK)
		return fmt.Sprintf(e2eIKEConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", "pe2", true),
			fmt.Sprintf(e2eIKEConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", "pe1", false)
	})
	red1, red2, blue1, blue2 := e.ce["ce-red-1"], e.ce["ce-red-2"], e.ce["ce-blue-1"], e.ce["ce-blue-2"]

	t.Run("ping both ways in both VRFs", func(t *testing.T) {
		for _, c := range []struct {
			from *netns.Node
			dst  string
		}{
			{red1, "10.2.0.2"}, {red2, "10.1.0.2"}, {blue1, "10.2.0.2"}, {blue2, "10.1.0.2"},
			{red1, "fd00:2::2"}, {blue2, "fd00:1::2"},
		} {
			waitPing(t, ctx, c.from, c.dst)
			must(t, ping(c.from, c.dst, 3))
		}
	})

	t.Run("continuous ping across child and IKE rekeys loses nothing", func(t *testing.T) {
		before := rekeys(e.pe1.proc.LogTail(100000))
		const count = 500 // 25 s at 50 ms
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		out, err := red1.Exec(pctx, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", "10.2.0.2")
		summary := out
		if i := strings.Index(string(out), "---"); i >= 0 {
			summary = out[i:]
		}
		t.Logf("ping: %s", strings.ReplaceAll(string(summary), "\n", " | "))
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
			t.Errorf("ping lost packets across rekeys: %v\n%s", err, summary)
		}
		after := rekeys(e.pe1.proc.LogTail(100000))
		child, ikeUp := after.child-before.child, after.ike-before.ike
		t.Logf("during the ping pe1 logged %d child rekeys and %d new IKE SAs (rekeys)", child, ikeUp)
		if child < 5 || ikeUp < 1 {
			t.Errorf("only %d child rekeys and %d IKE SAs during 25 s with 3 s soft child and 12 s soft IKE lifetimes", child, ikeUp)
		}
	})

	t.Run("TCP rekeys the child at soft-bytes", func(t *testing.T) {
		if n := tcp(t, red1, red2, "10.2.0.2"); n < 2e6 {
			t.Fatalf("red1 -> red2: only %v bytes, below two soft-bytes limits", n)
		}
		time.Sleep(1500 * time.Millisecond) // the byte check runs every second
		n := 0
		for _, p := range []*pe{e.pe1, e.pe2} {
			n += strings.Count(p.proc.LogTail(100000), "child sa reached a soft limit (bytes or sequence numbers), rekeying")
		}
		t.Logf("byte-lifetime rekeys logged by the two PEs: %d", n)
		if n == 0 {
			t.Error("no PE rekeyed at soft-bytes")
		}
		must(t, ping(red1, "10.2.0.2", 3))
	})

	t.Run("nothing in clear on the core", func(t *testing.T) {
		checkCoreCapture(t, e.capture)
	})

	t.Run("PSK never logged", func(t *testing.T) {
		for _, p := range []*pe{e.pe1, e.pe2} {
			if log := p.proc.LogTail(1000000); strings.Contains(log, e2eIKEPSK) {
				t.Errorf("%s logged the PSK", p.name)
			}
		}
	})
}

type rekeyCount struct{ child, ike int }

var replacesRE = regexp.MustCompile(`msg="child sa up".*replaces=0x([0-9a-f]{8})`)

// rekeys counts, in a peregrined log, child SAs that replaced another and
// IKE SAs that came up.
func rekeys(log string) rekeyCount {
	var c rekeyCount
	for _, m := range replacesRE.FindAllStringSubmatch(log, -1) {
		if m[1] != "00000000" {
			c.child++
		}
	}
	c.ike = strings.Count(log, `msg="ike sa up"`)
	return c
}
