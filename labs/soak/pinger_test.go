package soak

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// A reply as a raw socket returns it: IPv4 header (20 bytes), then ICMP.
var echoReplyPacket = []byte{
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, // v4, ihl 5, len 28, ttl 64, proto 1
	10, 2, 0, 2, 10, 1, 0, 2, // src, dst
	0x00, 0x00, 0x00, 0x00, // type 0 (echo reply), code 0, checksum
	0x50, 0x01, 0x01, 0x02, // identifier 0x5001, sequence 258
}

func TestEchoReply(t *testing.T) {
	if seq, ok := EchoReply(echoReplyPacket, 0x5001); !ok || seq != 258 {
		t.Errorf("EchoReply = %d, %v; want 258, true", seq, ok)
	}
	if _, ok := EchoReply(echoReplyPacket, 0x5002); ok {
		t.Error("a reply to another identifier taken")
	}
	req := append([]byte(nil), echoReplyPacket...)
	req[20] = 8 // an echo request
	if _, ok := EchoReply(req, 0x5001); ok {
		t.Error("an echo request taken for a reply")
	}
	for n := range len(echoReplyPacket) {
		if _, ok := EchoReply(echoReplyPacket[:n], 0x5001); ok {
			t.Errorf("a reply truncated to %d bytes taken", n)
		}
	}
}

func TestEchoRequestChecksum(t *testing.T) {
	b := make([]byte, 64)
	echoRequest(b, 0x5001, 7)
	if checksum(b) != 0 { // a packet with its checksum sums to zero
		t.Errorf("echo request checksum does not verify: % x", b[:8])
	}
}

func FuzzEchoReply(f *testing.F) {
	f.Add(echoReplyPacket)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		EchoReply(pkt, 0x5001)
	})
}

// The pinger against a node's loopback (every echo answered) and against
// an address nobody has (every echo lost, at its send time).
func TestPingerInNamespace(t *testing.T) {
	l := netns.NewLab(t)
	n, err := l.AddNode("pinger")
	if err != nil {
		t.Fatal(err)
	}
	pelab.MustExec(t, n, "ip", "link", "set", "lo", "up")
	pelab.MustExec(t, n, "ip", "route", "add", "blackhole", "192.0.2.0/24")
	const count, every = 100, 10 * time.Millisecond
	p, err := StartPinger(n.Namespace(), netip.MustParseAddr("127.0.0.1"), count, every, time.Second, 0x5001)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := p.Wait()
	if err != nil || res.Sent != count || len(res.LostAt) != 0 {
		t.Errorf("loopback: %d sent, lost %v, %v; want %d sent, none lost", res.Sent, res.LostAt, err, count)
	}
	// 100 echoes at 100/s, then the 1 s timeout: the rate is kept.
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("100 echoes at 10 ms took %v", took)
	}
	p, err = StartPinger(n.Namespace(), netip.MustParseAddr("192.0.2.1"), 10, every, 200*time.Millisecond, 0x5002)
	if err != nil {
		t.Fatal(err)
	}
	res, _ = p.Wait()
	if len(res.LostAt) != 10 || res.LostAt[9] < 9*every || res.LostAt[9] > 9*every+50*time.Millisecond {
		t.Errorf("blackhole: lost %v, want 10 echoes at 10 ms steps", res.LostAt)
	}
}
