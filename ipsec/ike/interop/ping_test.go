package interop

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// echoer stands in for Peregrine's tunnel dataplane: it opens ESP from
// the NAT-T socket with the negotiated inbound SA and answers ICMP echo
// requests to addresses behind Peregrine through the outbound SA.
type echoer struct {
	mu      sync.Mutex
	in      map[uint32]*esp.SA // by SPI: old and new overlap during a rekey
	out     *esp.SA            // the newest outbound SA
	next    *esp.SA            // a rekey's outbound SA, until echoerOutSwitchDelay passed
	send    func(pkt []byte, to netip.AddrPort) error
	opened  atomic.Int64 // packets that authenticated and decrypted
	replied atomic.Int64
	failed  atomic.Int64
}

// echoerInstallDelay, set by a test before it starts Peregrine, is how
// long install takes, as a busy dataplane's would (the runner waits for
// it). echoerOutSwitchDelay is how long after installing a rekeyed child
// the echoer goes on sealing with the old outbound SA, as peregrined's
// keying does (OutSwitchDelay): our response leaves after the install,
// and the peer may not have the new inbound SA yet. Both 0 unless a test
// sets them.
var echoerInstallDelay, echoerOutSwitchDelay time.Duration

func (e *echoer) install(c ike.ChildSA) error {
	time.Sleep(echoerInstallDelay)
	in, err := esp.NewSA(c.InConfig(0))
	if err != nil {
		return err
	}
	out, err := esp.NewSA(c.OutConfig())
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.in == nil {
		e.in = map[uint32]*esp.SA{}
	}
	e.in[c.InSPI] = in
	if e.out == nil || echoerOutSwitchDelay == 0 {
		e.out = out
	} else {
		e.next = out
		time.AfterFunc(echoerOutSwitchDelay, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.next == out {
				e.out, e.next = out, nil
			}
		})
	}
	e.mu.Unlock()
	return nil
}

// remove stops sealing with c at once, and stops opening with it after
// inboundGrace, as peregrined's keying does with a rekeyed-away child
// (cmd/peregrined retireGrace): the peer may have sealed packets with the
// old SA before it saw our Delete, and those are still in flight.
func (e *echoer) remove(c ike.ChildSA) {
	e.mu.Lock()
	if e.out != nil && e.out.SPI() == c.OutSPI {
		e.out, e.next = e.next, nil // as keying: the newest live child seals once the old one is gone
	}
	in := e.in[c.InSPI]
	e.mu.Unlock()
	time.AfterFunc(inboundGrace, func() {
		e.mu.Lock()
		if e.in[c.InSPI] == in {
			delete(e.in, c.InSPI)
		}
		e.mu.Unlock()
	})
}

// inboundGrace is how long a removed child's inbound SA keeps opening.
const inboundGrace = 2 * time.Second

func (e *echoer) handle(pkt []byte, from netip.AddrPort) {
	if len(pkt) < 4 {
		return
	}
	e.mu.Lock()
	in, out := e.in[binary.BigEndian.Uint32(pkt)], e.out
	e.mu.Unlock()
	if in == nil || out == nil {
		e.failed.Add(1)
		return
	}
	buf := make([]byte, esp.ScratchLen+len(pkt))
	copy(buf[esp.ScratchLen:], pkt)
	payload, nh, err := in.Open(buf, esp.ScratchLen, len(pkt))
	if err != nil {
		e.failed.Add(1)
		return
	}
	e.opened.Add(1)
	if nh != esp.NextHeaderIPv4 {
		return
	}
	reply, ok := echoReply(payload)
	if !ok {
		return
	}
	rb := make([]byte, esp.Headroom+len(reply)+esp.MaxTrailer)
	copy(rb[esp.Headroom:], reply)
	sealed, err := out.Seal(rb, esp.Headroom, len(reply), esp.NextHeaderIPv4)
	if err != nil {
		return
	}
	// Counted before it goes: the ping that gets this reply may end, and
	// the test read the count, before send returns.
	e.replied.Add(1)
	if e.send(sealed, from) != nil {
		e.replied.Add(-1)
	}
}

// echoReply turns an IPv4 ICMP echo request into its reply.
func echoReply(p []byte) ([]byte, bool) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 1 {
		return nil, false
	}
	ihl := int(p[0]&0xf) * 4
	if len(p) < ihl+8 || p[ihl] != 8 {
		return nil, false
	}
	r := append([]byte(nil), p...)
	copy(r[12:16], p[16:20])
	copy(r[16:20], p[12:16])
	r[8] = 64
	r[ihl] = 0 // echo reply
	binary.BigEndian.PutUint16(r[ihl+2:], 0)
	binary.BigEndian.PutUint16(r[ihl+2:], checksum(r[ihl:]))
	binary.BigEndian.PutUint16(r[10:], 0)
	binary.BigEndian.PutUint16(r[10:], checksum(r[:ihl]))
	return r, true
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
