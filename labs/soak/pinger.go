package soak

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// Pinger sends ICMP echo requests at a fixed rate from a raw socket in a
// node's namespace and tells, for every echo, whether its reply came
// within the timeout. iputils ping cannot be the source here: its timer
// rounds each interval up (-i 0.01 sends about 55 per second on these
// hosts), so neither its rate nor a lost echo's time would be known.
// Echo i is sent at start + i*every (at once if the sender is late).
type Pinger struct {
	fd      int
	dst     netip.Addr
	id      uint16
	every   time.Duration
	timeout time.Duration
	start   time.Time
	count   int
	done    chan struct{}

	mu      sync.Mutex
	sentAt  []time.Time // by echo index
	replied []bool
	late    int // replies after the timeout
	sendErr error
}

// PingResult is what a Pinger saw.
type PingResult struct {
	Sent   int
	LostAt []time.Duration // send offset of every echo without a reply within the timeout
	Late   int             // of those, replies that came late
}

// StartPinger sends count echoes to dst (IPv4), one per every, from a raw
// ICMP socket in namespace ns.
func StartPinger(ns string, dst netip.Addr, count int, every, timeout time.Duration, id uint16) (*Pinger, error) {
	if !dst.Is4() {
		return nil, fmt.Errorf("pinger: %v: IPv4 only", dst)
	}
	fd := -1
	err := netns.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pinger in %s: %w", ns, err)
	}
	// The receiver wakes every 100 ms to see whether the run is over.
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &Pinger{fd: fd, dst: dst, id: id, every: every, timeout: timeout, start: time.Now(), count: count,
		done: make(chan struct{}), sentAt: make([]time.Time, 0, count), replied: make([]bool, count)}
	go p.send()
	go p.receive()
	return p, nil
}

func (p *Pinger) send() {
	req := make([]byte, 64) // 8 bytes of header, 56 of payload as ping sends
	to := &unix.SockaddrInet4{Addr: p.dst.As4()}
	for i := range p.count {
		time.Sleep(time.Until(p.start.Add(time.Duration(i) * p.every)))
		echoRequest(req, p.id, uint16(i))
		p.mu.Lock()
		p.sentAt = append(p.sentAt, time.Now())
		p.mu.Unlock()
		if err := unix.Sendto(p.fd, req, 0, to); err != nil && !errors.Is(err, unix.ENOBUFS) {
			p.mu.Lock()
			p.sendErr = err
			p.mu.Unlock()
		}
	}
	// The last replies, then the receiver stops.
	time.Sleep(p.timeout + 100*time.Millisecond)
	close(p.done)
}

func (p *Pinger) receive() {
	buf := make([]byte, 1500)
	for {
		select {
		case <-p.done:
			unix.Close(p.fd)
			return
		default:
		}
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if err != nil {
			continue // the timeout, or EINTR
		}
		now := time.Now()
		seq, ok := EchoReply(buf[:n], p.id)
		if !ok {
			continue
		}
		p.mu.Lock()
		// The newest echo with this 16-bit sequence number: replies come
		// within the timeout, far less than 65,536 echoes.
		last := len(p.sentAt) - 1
		if i := last - int(uint16(last)-seq); i >= 0 && i <= last {
			if now.Sub(p.sentAt[i]) <= p.timeout {
				p.replied[i] = true
			} else {
				p.late++
			}
		}
		p.mu.Unlock()
	}
}

// Wait waits until every echo was sent and had its time to be answered.
func (p *Pinger) Wait() (PingResult, error) {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	r := PingResult{Sent: len(p.sentAt), Late: p.late}
	for i, at := range p.sentAt {
		if !p.replied[i] {
			r.LostAt = append(r.LostAt, at.Sub(p.start))
		}
	}
	return r, p.sendErr
}

// echoRequest writes an ICMP echo request (RFC 792) into b, payload zero:
//
//	0: type 8 | code 0 | checksum (2) | 4: identifier (2) | sequence (2) | 8: data
func echoRequest(b []byte, id, seq uint16) {
	clear(b)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	binary.BigEndian.PutUint16(b[2:], checksum(b))
}

// checksum is the Internet checksum (RFC 1071) of b, checksum field zero.
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// EchoReply reads an IPv4 packet as a raw ICMP socket returns it (IP
// header first) and returns its sequence number if it is an echo reply
// (type 0, code 0) with identifier id. Anything else, truncated or not,
// is not a reply.
func EchoReply(pkt []byte, id uint16) (seq uint16, ok bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return 0, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl+8 || pkt[9] != unix.IPPROTO_ICMP {
		return 0, false
	}
	icmp := pkt[ihl:]
	if icmp[0] != 0 || icmp[1] != 0 || binary.BigEndian.Uint16(icmp[4:]) != id {
		return 0, false
	}
	return binary.BigEndian.Uint16(icmp[6:]), true
}
