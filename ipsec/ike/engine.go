package ike

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// Engine runs the IKEv2 exchanges of every configured peer. It owns no
// socket and no goroutine: the caller feeds it datagrams (Handle) and the
// passage of time (Tick), and drains what it wants sent (Output) and what
// happened (Events). That makes every exchange testable with two engines
// wired back to back and a fake clock. Runner drives an Engine over UDP.
//
// An Engine is not safe for concurrent use: one goroutine owns it.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
	peers   []*PeerConfig
	sas     map[uint64]*ikeSA         // by our SPI
	inits   map[initKey]*ikeSA        // responder SAs by the initiator's SPI and address
	inSPIs  map[uint32]*childSA       // child SAs by our inbound SPI
	restart map[*PeerConfig]time.Time // initiations to retry
	out     []Datagram
	events  []Event
	secret  struct {
		cur, prev [32]byte // cookie secrets, current and previous
		version   uint32
		until     time.Time // when cur is replaced
	}
}

type initKey struct {
	remote netip.AddrPort
	spiI   uint64
}

// NewEngine checks cfg and returns an engine. It starts nothing: call
// Start to initiate the peers configured with Initiate.
func NewEngine(cfg Config) (*Engine, error) {
	if len(cfg.Peers) == 0 {
		return nil, errNoPeers
	}
	e := &Engine{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, rand: rand.Reader,
		sas: map[uint64]*ikeSA{}, inits: map[initKey]*ikeSA{}, inSPIs: map[uint32]*childSA{},
		restart: map[*PeerConfig]time.Time{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.cfg.Retransmit == 0 {
		e.cfg.Retransmit = time.Second
	}
	if e.cfg.Tries == 0 {
		e.cfg.Tries = 6
	}
	if e.cfg.CookieThreshold == 0 {
		e.cfg.CookieThreshold = 64
	}
	if e.cfg.MaxChildSAs <= 0 {
		e.cfg.MaxChildSAs = 8
	}
	if e.cfg.HalfOpenTimeout == 0 {
		e.cfg.HalfOpenTimeout = 30 * time.Second
	}
	if e.cfg.RestartAfter == 0 {
		e.cfg.RestartAfter = 10 * time.Second
	}
	if e.cfg.Port == 0 {
		e.cfg.Port = 500
	}
	if e.cfg.NATTPort == 0 {
		e.cfg.NATTPort = 4500
	}
	if err := e.initCookieSecrets(); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, p := range cfg.Peers {
		p = p.withDefaults()
		if err := p.validate(); err != nil {
			return nil, err
		}
		if names[p.Name] {
			return nil, &ConfigError{Field: "peers[" + p.Name + "].name", Reason: "duplicate"}
		}
		names[p.Name] = true
		e.peers = append(e.peers, &p)
	}
	return e, nil
}

// Start initiates an IKE SA to every peer configured with Initiate.
func (e *Engine) Start() {
	for _, p := range e.peers {
		if p.Initiate {
			_ = e.Initiate(p.Name)
		}
	}
}

// ErrUnknownPeer: no peer of that name is configured.
var ErrUnknownPeer = errors.New("ike: unknown peer")

// Initiate starts an IKE SA (and its first child SA) with the named peer.
func (e *Engine) Initiate(name string) error {
	p := e.peer(name)
	if p == nil {
		return fmt.Errorf("%w %q", ErrUnknownPeer, name)
	}
	if !p.RemoteAddr.IsValid() {
		return &ConfigError{Field: "peers[" + name + "].remote-address", Reason: "required to initiate"}
	}
	return e.initiate(p)
}

func (e *Engine) peer(name string) *PeerConfig {
	for _, p := range e.peers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Handle processes one datagram received on local from remote. On the
// NAT-T port it expects RFC 3948 framing and ignores ESP and keepalives
// (the runner hands those to the dataplane before calling Handle). data
// is copied; the caller may reuse its buffer.
func (e *Engine) Handle(local, remote netip.AddrPort, data []byte) {
	if local.Port() == e.cfg.NATTPort {
		kind, msg := wire.Classify(data)
		if kind != wire.KindIKE {
			return
		}
		data = msg
	}
	data = bytes.Clone(data)
	m, err := ParseMessage(data)
	if err != nil {
		e.log.Debug("dropped malformed IKE message", "from", remote, "err", err)
		return
	}
	if m.Exchange == IKESAInit && !m.IsResponse() && m.SPIr == 0 {
		e.handleInitRequest(local, remote, data, m)
		return
	}
	ours := m.SPIi
	if m.Flags&FlagInitiator != 0 {
		ours = m.SPIr
	}
	sa := e.sas[ours]
	if sa == nil || sa.spiI != m.SPIi || (sa.spiR != m.SPIr && !(m.Exchange == IKESAInit && sa.spiR == 0)) {
		e.log.Debug("dropped IKE message for unknown SA", "from", remote, "msg", m)
		return
	}
	if m.IsResponse() {
		sa.handleResponse(m, local, remote)
	} else {
		sa.handleRequest(m, local, remote)
	}
}

// Output returns and forgets the datagrams to send.
func (e *Engine) Output() []Datagram {
	o := e.out
	e.out = nil
	return o
}

// Events returns and forgets what happened since the last call.
func (e *Engine) Events() []Event {
	ev := e.events
	e.events = nil
	return ev
}

// Tick runs every timer that is due: retransmissions, DPD, rekeys,
// expiries, half-open cleanup.
func (e *Engine) Tick() {
	now := e.now()
	for _, sa := range e.sasSorted() {
		sa.tick(now)
	}
	e.restartDue(now)
}

// NextDeadline is when Tick next has work (zero time when none).
func (e *Engine) NextDeadline() time.Time {
	var d time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	for _, sa := range e.sas {
		at(sa.deadline())
	}
	for _, t := range e.restart {
		at(t)
	}
	return d
}

// sasSorted returns the SAs in SPI order, so runs are reproducible.
func (e *Engine) sasSorted() []*ikeSA {
	out := make([]*ikeSA, 0, len(e.sas))
	for _, sa := range e.sas {
		out = append(out, sa)
	}
	slices.SortFunc(out, func(a, b *ikeSA) int { return cmp.Compare(a.ourSPI(), b.ourSPI()) })
	return out
}

func (e *Engine) emit(ev Event) { e.events = append(e.events, ev) }

func (e *Engine) send(local, remote netip.AddrPort, data []byte) {
	e.out = append(e.out, Datagram{Local: local, Remote: remote, Data: data})
}

// newIKESPI returns a fresh non-zero SPI not in use.
func (e *Engine) newIKESPI() uint64 {
	for {
		var b [8]byte
		_, _ = io.ReadFull(e.rand, b[:])
		s := binary.BigEndian.Uint64(b[:])
		if _, used := e.sas[s]; s != 0 && !used {
			return s
		}
	}
}

// newChildSPI returns a fresh inbound ESP SPI (256 and up: RFC 4303
// section 2.1 reserves the rest).
func (e *Engine) newChildSPI() uint32 {
	for {
		var b [4]byte
		_, _ = io.ReadFull(e.rand, b[:])
		s := binary.BigEndian.Uint32(b[:])
		if _, used := e.inSPIs[s]; s >= 256 && !used {
			e.inSPIs[s] = nil // reserved until the child exists
			return s
		}
	}
}

func (e *Engine) nonce() []byte {
	n := make([]byte, 32)
	_, _ = io.ReadFull(e.rand, n)
	return n
}

// halfOpen counts responder SAs still waiting for IKE_AUTH.
func (e *Engine) halfOpen() int {
	n := 0
	for _, sa := range e.inits {
		if sa.state == stateInitDone {
			n++
		}
	}
	return n
}

// remove forgets sa and wipes its keys (SK_d, SK_e*, SK_p*): nothing
// derives from them any more. Its SK ciphers stay, for the one response
// that may still be sealed with them (a Delete's answer).
func (e *Engine) remove(sa *ikeSA) {
	sa.releaseLease()
	delete(e.sas, sa.ourSPI())
	for k, v := range e.inits {
		if v == sa {
			delete(e.inits, k)
		}
	}
	k := &sa.keys
	wipe(k.d, k.ai, k.ar, k.ei, k.er, k.pi, k.pr)
}
