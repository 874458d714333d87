package interop_test

// Two Peregrine PEs whose tunnel is AH (RFC 4302) keyed by IKEv2:
// ipsec.ike-peers[].protocol: ah on both ends. pe1 initiates and offers
// AES-128-GMAC with ESN first (then HMAC-SHA-256-128), pe2 takes any AH
// transform. The topology is TestE2E's, with the child SAs rekeyed every
// 3 s (pelab.IKELifetimes). tshark is the oracle of what crossed: AH,
// the label stack and the CE packets dissected in clear, no ESP.

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

func TestAHIKEBetweenPEs(t *testing.T) {
	tshark, err := peers.Tool("tshark")
	if err != nil {
		t.Skip("tshark not installed: it is the oracle of what crossed the core")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		return pelab.IKEConfigsWith(t, pe1, pe2,
			"      protocol: ah\n      ah-proposals: [aes128gmac-esn, sha256]\n",
			"      protocol: ah\n")
	})
	red1 := e.CE["ce-red-1"]

	t.Run("warning: integrity only", func(t *testing.T) {
		for _, p := range []*pe{e.PE1, e.PE2} {
			log, err := os.ReadFile(p.Proc.LogPath())
			must(t, err)
			if !strings.Contains(string(log), "AH tunnel: integrity only") {
				t.Errorf("%s's log has no AH warning", p.Name)
			}
		}
	})

	t.Run("ping both ways in both VRFs", func(t *testing.T) {
		pelab.PingAcross(t, ctx, e.CE, 3)
	})

	t.Run("show ipsec sa: ah aes128gmac, integrity only, ESN", func(t *testing.T) {
		for _, p := range []*pe{e.PE1, e.PE2} {
			for _, sa := range ahSAs(t, ctx, p) {
				if sa.Protocol != "ah" || !sa.IntegrityOnly || sa.Cipher != "aes128gmac" || !sa.ESN || sa.SPI < 0x100 {
					t.Errorf("%s SA %+v", p.Name, sa)
				}
			}
		}
	})

	t.Run("continuous ping across child rekeys loses nothing", func(t *testing.T) {
		before := pelab.CountRekeys(e.PE1.Proc.LogTail(100000))
		const count = 300 // 15 s at 50 ms, child SAs rekeyed every 3 s
		pctx, pcancel := context.WithTimeout(ctx, 40*time.Second)
		defer pcancel()
		out, err := red1.Exec(pctx, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", "10.2.0.2")
		summary := out
		if i := strings.Index(string(out), "---"); i >= 0 {
			summary = out[i:]
		}
		t.Logf("ping: %s", strings.ReplaceAll(string(summary), "\n", " | "))
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
			t.Errorf("ping lost packets across AH child rekeys: %v\n%s", err, summary)
		}
		child := pelab.CountRekeys(e.PE1.Proc.LogTail(100000)).Child - before.Child
		t.Logf("during the ping pe1 logged %d child rekeys", child)
		if child < 3 {
			t.Errorf("only %d child rekeys during 15 s with a 3 s soft child lifetime", child)
		}
	})

	time.Sleep(500 * time.Millisecond) // tcpdump -U: let the last packets land
	t.Run("tshark: AH with labels in clear, new SPIs per rekey, no ESP", func(t *testing.T) {
		out := tsharkFields(t, tshark, e.Capture, "ah", "ah.spi", "ah.sequence", "mpls.label", "ip.src")
		var ah, labelled int
		spis := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 4 {
				continue
			}
			ah++
			spis[f[0]] = true
			if f[2] != "" && (strings.Contains(f[3], "10.1.0.2") || strings.Contains(f[3], "10.2.0.2")) {
				labelled++ // the label and the CE's packet, dissected in clear
			}
		}
		if ah < 600 || labelled < 600 || len(spis) < 6 {
			t.Errorf("tshark saw %d AH packets, %d with a label and a CE address in clear, %d SPIs", ah, labelled, len(spis))
		}
		if esp := strings.TrimSpace(tsharkFields(t, tshark, e.Capture, "esp", "esp.spi")); esp != "" {
			t.Errorf("ESP on the core of an AH tunnel:\n%s", esp)
		}
		t.Logf("tshark: %d AH packets, %d with MPLS label and CE packet in clear, %d SPIs (both directions, every rekey), no ESP", ah, labelled, len(spis))
	})

	t.Run("a flipped bit is dropped as auth-failed", func(t *testing.T) {
		if raceOn {
			// Two clean-clone CI runs under -race found no inbound SA
			// that outlived a capture read and an injection (children
			// rekey every 3 s); without -race it passes. The manual-key
			// lab (TestAHBetweenPEs) checks the same drop under -race.
			t.Skip("flipped-bit injection needs the dataplane without the race detector: run without -race")
		}
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		// The child SAs are rekeyed every 3 s: take pe2's current inbound
		// SA, a packet pe1 just sealed with it, and try again if a rekey
		// took the SA away before its counters were read.
		for attempt := 1; ; attempt++ {
			if attempt > 10 {
				t.Fatal("no attempt saw pe2's inbound SA live long enough")
			}
			must(t, pelab.Ping(red1, "10.2.0.2", 2))
			time.Sleep(300 * time.Millisecond)
			before, ok := sealedAHSA(t, ctx, e.PE1, e.PE2)
			pkt := lastAHOrNil(t, e.Capture, before.SPI)
			if !ok || pkt == nil {
				continue
			}
			// The window check comes before the ICV (RFC 4302 3.4.3):
			// move the copies' sequence ahead (the ICV covers it), then
			// flip a bit in the CE's packet (the last byte) or in the
			// ICV (after the fixed header and GMAC's 8-byte IV).
			for i, at := range []int{len(pkt) - 1, 20 + 12 + 8 + 3} {
				bad := append([]byte(nil), pkt...)
				seq := binary.BigEndian.Uint32(bad[28:])
				binary.BigEndian.PutUint32(bad[28:], seq+100+uint32(i))
				bad[at] ^= 0x10
				inject(t, e.PE1.Node, bad)
			}
			var after ahAPISA
			err := peers.Eventually(ctx, func(ctx context.Context) error {
				cur, ok := inAHSAWithSPI(t, ctx, e.PE2, before.SPI)
				if !ok {
					after = ahAPISA{}
					return nil // rekeyed away: try again
				}
				after = cur
				if d := cur.Drops["auth-failed"] - before.Drops["auth-failed"]; d != 2 {
					return fmt.Errorf("auth-failed +%d, want +2 (drops %v)", d, cur.Drops)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("pe2's inbound SA 0x%x: %v", before.SPI, err)
			}
			if after.SPI != before.SPI {
				continue
			}
			t.Logf("attempt %d: pe2's inbound AH SA 0x%08x: drops %v (before %v)", attempt, after.SPI, after.Drops, before.Drops)
			break
		}
		must(t, pelab.Ping(red1, "10.2.0.2", 3)) // the window did not move: the tunnel still works
	})

	t.Run("PSK never logged", func(t *testing.T) {
		for _, p := range []*pe{e.PE1, e.PE2} {
			if log := p.Proc.LogTail(1000000); strings.Contains(log, pelab.IKEPSK) {
				t.Errorf("%s logged the PSK", p.Name)
			}
		}
	})
}

// sealedAHSA returns to's inbound AH SA that from seals with now. Right
// after a rekey to holds two inbound SAs, the new one and the one
// retiring, and only the first carries from's packets.
func sealedAHSA(t *testing.T, ctx context.Context, from, to *pe) (ahAPISA, bool) {
	t.Helper()
	for _, sa := range ahSAs(t, ctx, from) {
		if sa.Direction == "out" && sa.Protocol == "ah" {
			return inAHSAWithSPI(t, ctx, to, sa.SPI)
		}
	}
	return ahAPISA{}, false
}

// inAHSAWithSPI returns p's inbound AH SA spi, if p still has it.
func inAHSAWithSPI(t *testing.T, ctx context.Context, p *pe, spi uint32) (ahAPISA, bool) {
	t.Helper()
	for _, sa := range ahSAs(t, ctx, p) {
		if sa.Direction == "in" && sa.Protocol == "ah" && sa.SPI == spi {
			return sa, true
		}
	}
	return ahAPISA{}, false
}
