package pelab

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// MustExec runs args in n within 30 s and fails the test if the command
// fails.
func MustExec(t netns.TB, n *netns.Node, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", n.Name(), strings.Join(args, " "), err, out)
	}
	return out
}

// Ping sends count echoes and reports whether every one was answered.
func Ping(n *netns.Node, dst string, count int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+5)*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, "ping", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "1", dst)
	if err != nil {
		return fmt.Errorf("%s: ping %s: %v\n%s", n.Name(), dst, err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d received", count)) {
		return fmt.Errorf("%s: ping %s lost packets:\n%s", n.Name(), dst, out)
	}
	return nil
}

// WaitPing retries a single ping until it succeeds (routes converge).
func WaitPing(t netns.TB, ctx context.Context, n *netns.Node, dst string) {
	t.Helper()
	must(t, peers.Eventually(ctx, func(context.Context) error { return Ping(n, dst, 1) }))
}

// PingAcross pings from each CE of the two-PE lab (ce, by name: ce-red-1
// ... ce-blue-2) its twin behind the other PE, IPv4 and IPv6, count
// echoes each once a single one gets through: both ways in both VRFs.
func PingAcross(t netns.TB, ctx context.Context, ce map[string]*netns.Node, count int) {
	t.Helper()
	for _, c := range []struct{ from, dst string }{
		{"ce-red-1", "10.2.0.2"}, {"ce-red-2", "10.1.0.2"}, {"ce-blue-1", "10.2.0.2"}, {"ce-blue-2", "10.1.0.2"},
		{"ce-red-1", "fd00:2::2"}, {"ce-red-2", "fd00:1::2"}, {"ce-blue-1", "fd00:2::2"}, {"ce-blue-2", "fd00:1::2"},
	} {
		n := ce[c.from]
		if n == nil {
			t.Fatalf("PingAcross: no CE %s", c.from)
		}
		WaitPing(t, ctx, n, c.dst)
		must(t, Ping(n, c.dst, count))
	}
}

// PingRun is a ping at a fixed rate started in the background.
type PingRun struct {
	start    time.Time
	interval time.Duration
	count    int
	done     chan struct{}
	out      []byte
	err      error
}

// StartPing sends count echoes from n to dst, one per interval, each
// waiting at most 1 s for its reply.
func StartPing(n *netns.Node, dst string, count int, interval time.Duration) *PingRun {
	p := &PingRun{start: time.Now(), interval: interval, count: count, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		// ping may fall behind its schedule on a loaded host: a tenth
		// more, and 30 s for the last replies.
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count)*interval*11/10+30*time.Second)
		defer cancel()
		// ping exits 1 when replies are missing; the output says which.
		p.out, p.err = n.Exec(ctx, "ping", "-c", fmt.Sprint(count), "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "1", dst)
	}()
	return p
}

var icmpSeq = regexp.MustCompile(`icmp_seq=(\d+) `)

// Lost waits for the ping to end and returns, for every echo without a
// reply, its nominal send time as an offset from the start.
func (p *PingRun) Lost(t netns.TB) []time.Duration {
	t.Helper()
	<-p.done
	if !strings.Contains(string(p.out), "packets transmitted") {
		t.Fatalf("ping did not run: %v\n%s", p.err, p.out)
	}
	got := make([]bool, p.count+1)
	for _, m := range icmpSeq.FindAllStringSubmatch(string(p.out), -1) {
		if seq, _ := strconv.Atoi(m[1]); seq >= 1 && seq <= p.count {
			got[seq] = true
		}
	}
	var lost []time.Duration
	for seq := 1; seq <= p.count; seq++ {
		if !got[seq] {
			lost = append(lost, time.Duration(seq-1)*p.interval)
		}
	}
	return lost
}

// At is the offset of now from the ping's start.
func (p *PingRun) At() time.Duration { return time.Since(p.start) }

// Interval is the time between two echoes.
func (p *PingRun) Interval() time.Duration { return p.interval }

// Count is how many echoes the ping sends.
func (p *PingRun) Count() int { return p.count }

// CheckLostWithin fails unless every lost echo was sent in [from, to].
func CheckLostWithin(t netns.TB, what string, lost []time.Duration, from, to time.Duration) {
	t.Helper()
	for _, l := range lost {
		if l < from || l > to {
			t.Errorf("%s: echo sent at %v lost, outside the allowed window [%v, %v]; all lost: %v", what, l, from, to, lost)
			return
		}
	}
	t.Logf("%s: %d echoes lost, allowed window [%v, %v]", what, len(lost), from, to)
}
