package interop_test

// Helpers shared by the fault cases (fault_*_test.go): a steady CE ping
// whose lost replies are placed in time, and snapshots of a PE's sessions,
// SAs and VRF tables read through its local API.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// pingRun is a ping at a fixed rate started in the background.
type pingRun struct {
	start    time.Time
	interval time.Duration
	count    int
	done     chan struct{}
	out      []byte
	err      error
}

// startPing sends count echoes from n to dst, one per interval, each
// waiting at most 1 s for its reply.
func startPing(n *netns.Node, dst string, count int, interval time.Duration) *pingRun {
	p := &pingRun{start: time.Now(), interval: interval, count: count, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count)*interval+30*time.Second)
		defer cancel()
		// ping exits 1 when replies are missing; the output says which.
		p.out, p.err = n.Exec(ctx, "ping", "-c", fmt.Sprint(count), "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "1", dst)
	}()
	return p
}

var icmpSeq = regexp.MustCompile(`icmp_seq=(\d+) `)

// lost waits for the ping to end and returns, for every echo without a
// reply, its nominal send time as an offset from the start.
func (p *pingRun) lost(t *testing.T) []time.Duration {
	t.Helper()
	<-p.done
	if !strings.Contains(string(p.out), "packets transmitted") {
		t.Fatalf("ping did not run: %v\n%s", p.err, p.out)
	}
	got := map[int]bool{}
	for _, m := range icmpSeq.FindAllStringSubmatch(string(p.out), -1) {
		seq, _ := strconv.Atoi(m[1])
		got[seq] = true
	}
	var lost []time.Duration
	for seq := 1; seq <= p.count; seq++ {
		if !got[seq] {
			lost = append(lost, time.Duration(seq-1)*p.interval)
		}
	}
	return lost
}

// at is the offset of now from the ping's start.
func (p *pingRun) at() time.Duration { return time.Since(p.start) }

// checkLostWithin fails unless every lost echo was sent in [from, to].
func checkLostWithin(t *testing.T, what string, lost []time.Duration, from, to time.Duration) {
	t.Helper()
	for _, l := range lost {
		if l < from || l > to {
			t.Errorf("%s: echo sent at %v lost, outside the allowed window [%v, %v]; all lost: %v", what, l, from, to, lost)
			return
		}
	}
	t.Logf("%s: %d echoes lost, allowed window [%v, %v]", what, len(lost), from, to)
}

// sessions returns each neighbor's state and uptime.
func (p *pe) sessions(t *testing.T, ctx context.Context) map[string]apiNeighbor {
	t.Helper()
	ns, err := p.neighbors(ctx)
	must(t, err)
	m := map[string]apiNeighbor{}
	for _, n := range ns {
		m[n.Address.String()] = n
	}
	return m
}

// checkNoFlap fails unless every session of before is still established
// and has been up since then (its uptime grew by at least the time that
// passed).
func (p *pe) checkNoFlap(t *testing.T, ctx context.Context, before map[string]apiNeighbor, since time.Time) {
	t.Helper()
	after := p.sessions(t, ctx)
	elapsed := time.Since(since)
	for a, b := range before {
		n := after[a]
		if n.State != "established" || n.Uptime < b.Uptime+elapsed-time.Second {
			t.Errorf("%s: session %s flapped: before %s up %v, after %s up %v (%v later)", p.name, a, b.State, b.Uptime, n.State, n.Uptime, elapsed)
		}
	}
}

// apiSA is one SA as /v1/ipsec/sa lists it.
type apiSA struct {
	Remote    string `json:"remote"`
	Direction string `json:"direction"`
	SPI       uint32 `json:"spi"`
	Packets   uint64 `json:"packets"`
}

// saSet returns the PE's SAs as sorted "direction remote spi" lines.
func (p *pe) saSet(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var sas []apiSA
	must(t, p.get(ctx, "/v1/ipsec/sa", &sas))
	var s []string
	for _, sa := range sas {
		s = append(s, fmt.Sprintf("%s %s %#x", sa.Direction, sa.Remote, sa.SPI))
	}
	slices.Sort(s)
	return s
}

// vrfTable returns a VRF's routes as sorted lines, for comparing tables.
func (p *pe) vrfTable(t *testing.T, ctx context.Context, vrf string) []string {
	t.Helper()
	rs, err := p.routes(ctx, vrf)
	must(t, err)
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%s via %s label %d rd %s local %v", r.Prefix, r.NextHop, r.Label, r.RD, r.Local))
	}
	slices.Sort(s)
	return s
}
