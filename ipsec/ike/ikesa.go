package ike

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

type saState uint8

const (
	stateInitSent    saState = iota // initiator: IKE_SA_INIT request out
	stateInitDone                   // responder: IKE_SA_INIT answered (half-open)
	stateAuthSent                   // initiator: IKE_AUTH request out
	stateEstablished                // authenticated
	stateDeleting                   // our Delete of the IKE SA is out
	stateDead                       // removed
)

func (s saState) String() string {
	return [...]string{"INIT_SENT", "HALF_OPEN", "AUTH_SENT", "ESTABLISHED", "DELETING", "DEAD"}[s]
}

// ikeSA is one IKE SA and the state of its exchanges.
type ikeSA struct {
	e         *Engine
	peer      *PeerConfig
	initiator bool // we initiated this IKE SA (sets the I flag)
	spiI      uint64
	spiR      uint64
	state     saState
	suite     ikeSuite
	keys      ikeKeys
	in, out   skCipher
	ni, nr    []byte
	dh        keyShare
	initReq   []byte // IKE_SA_INIT request as sent (signed by the initiator's AUTH)
	initResp  []byte // IKE_SA_INIT response as sent (signed by the responder's AUTH)
	cookie    []byte
	local     netip.AddrPort
	remote    netip.AddrPort
	natt      bool // IKE on the NAT-T ports, ESP in UDP
	natSelf   bool // we are behind a NAT
	natPeer   bool // the peer is behind a NAT

	nextID  uint32 // message ID of our next request
	pending *request
	queue   []*request

	peerID   uint32 // message ID of the peer's next request
	lastResp []byte // our response to request peerID-1, for retransmissions
	lastReq  []byte // that request as received

	// client is a remote-access host's identity (IDi), lease its
	// addresses (remote_access.go).
	client Identity
	lease  *raLease
	gotIP4 netip.Addr // the address a responder leased us (RequestAddress)

	children  []*childSA
	authChild *childSA // the first child, negotiated in IKE_AUTH (initiator)
	reserved  []uint32 // inbound SPIs handed out for children of this SA

	created, lastHeard time.Time
	rekeyAt, expireAt  time.Time
	rekey              *ikeRekey // our CREATE_CHILD_SA rekeying this IKE SA
	noRestart          bool      // deleted by Engine.Delete: do not initiate again
	peerRekey          *ikeSA    // the SA a peer's rekey of this one created
	// replaced is set once we answered a peer's rekey of this SA: its
	// children moved to the successor, and further CREATE_CHILD_SA
	// requests on it are refused (the peer should only delete it).
	replaced bool
	// peerResources: the peer announced per-resource child SAs (RFC
	// 9611) in IKE_AUTH (resources.go).
	peerResources bool
}

// request is one of our requests, queued or in flight (window size 1,
// RFC 7296 section 2.3).
type request struct {
	x          ExchangeType
	payloads   func() []Payload // built when the request gets its message ID
	onResponse func(*Message)
	onTimeout  func() // nil: the IKE SA is dead

	id    uint32
	data  []byte
	tries int
	next  time.Time
}

func (sa *ikeSA) ourSPI() uint64 {
	if sa.initiator {
		return sa.spiI
	}
	return sa.spiR
}

func (sa *ikeSA) logArgs(args ...any) []any {
	return append([]any{"peer", sa.peer.Name, "spi_i", hex64(sa.spiI), "spi_r", hex64(sa.spiR)}, args...)
}

// frame prefixes the non-ESP marker on the NAT-T port.
func (sa *ikeSA) frame(msg []byte) []byte {
	if !sa.natt {
		return msg
	}
	b := make([]byte, wire.NonESPMarkerLen+len(msg))
	copy(b[wire.NonESPMarkerLen:], msg)
	return b
}

// encode seals payloads in an SK payload.
func (sa *ikeSA) encode(x ExchangeType, response bool, id uint32, ps []Payload) []byte {
	m := &Message{SPIi: sa.spiI, SPIr: sa.spiR, Exchange: x, MessageID: id, Payloads: ps}
	if sa.initiator {
		m.Flags |= FlagInitiator
	}
	if response {
		m.Flags |= FlagResponse
	}
	return sa.frame(m.marshalSK(sa.out))
}

// request queues an encrypted request.
func (sa *ikeSA) request(r *request) {
	sa.queue = append(sa.queue, r)
	sa.sendNext()
}

func (sa *ikeSA) sendNext() {
	if sa.pending != nil || len(sa.queue) == 0 || sa.state == stateDead {
		return
	}
	r := sa.queue[0]
	sa.queue = sa.queue[1:]
	r.id = sa.nextID
	sa.nextID++
	if r.data == nil {
		r.data = sa.encode(r.x, false, r.id, r.payloads())
	}
	sa.pending = r
	sa.transmit(r, sa.e.now())
}

func (sa *ikeSA) transmit(r *request, now time.Time) {
	r.tries++
	r.next = now.Add(sa.e.cfg.Retransmit << (r.tries - 1))
	sa.e.send(sa.local, sa.remote, r.data)
}

func (sa *ikeSA) handleResponse(m *Message, local, remote netip.AddrPort) {
	r := sa.pending
	if r == nil || m.MessageID != r.id || m.Exchange != r.x {
		return
	}
	if m.Exchange != IKESAInit {
		if err := m.open(sa.in); err != nil {
			sa.e.log.Debug("dropped undecryptable response", sa.logArgs("err", err)...)
			return
		}
		if !m.opened {
			return // a response in the clear is not authenticated: ignore it
		}
	}
	sa.lastHeard = sa.e.now()
	sa.pending = nil
	r.onResponse(m)
	sa.sendNext()
}

func (sa *ikeSA) handleRequest(m *Message, local, remote netip.AddrPort) {
	if sa.lastResp != nil && m.MessageID+1 == sa.peerID {
		// A retransmission (section 2.1): answer only an exact copy of the
		// request, so a forged one cannot make us send anywhere.
		if bytes.Equal(m.raw, sa.lastReq) {
			sa.e.send(local, remote, sa.lastResp)
		}
		return
	}
	if m.MessageID != sa.peerID || m.Exchange == IKESAInit || sa.state == stateInitSent {
		return
	}
	if err := m.open(sa.in); err != nil {
		sa.e.log.Debug("dropped undecryptable request", sa.logArgs("err", err)...)
		return
	}
	if !m.opened {
		return // after IKE_SA_INIT everything travels in SK (section 3.14)
	}
	// Authenticated: answer where it came from (NAT mappings move).
	sa.local, sa.remote = local, remote
	if local.Port() == sa.e.cfg.NATTPort {
		sa.natt = true
	}
	sa.lastHeard = sa.e.now()
	var resp []Payload
	switch m.Exchange {
	case IKEAuth:
		resp = sa.handleAuthRequest(m)
	case CreateChildSA:
		resp = sa.handleCreateChild(m)
	case Informational:
		resp = sa.handleInformational(m)
	default:
		return
	}
	sa.lastResp = sa.encode(m.Exchange, true, m.MessageID, resp)
	sa.lastReq = m.raw
	sa.peerID++
	sa.e.send(sa.local, sa.remote, sa.lastResp)
	if sa.state == stateDead {
		sa.e.remove(sa)
	}
}

// hex64 and hex32 format SPIs for logs as strongSwan prints them.
func hex64(v uint64) string { return fmt.Sprintf("%016x", v) }
func hex32(v uint32) string { return fmt.Sprintf("0x%08x", v) }
