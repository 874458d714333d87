package ike

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// ChildSA is a negotiated pair of ESP SAs, as the dataplane installs it.
// Keys are laid out as esp.Config.Key wants them for Cipher (an AEAD's key
// || 4-byte salt, or AES-CBC's key || HMAC key); they are the
// event's own copies (the engine wipes its own when the SA goes), and
// they redact themselves in every format, JSON and slog.
type ChildSA struct {
	Peer string
	// InSPI is the SPI we chose and the peer puts on packets to us;
	// OutSPI the one we put on packets to the peer.
	InSPI, OutSPI uint32
	Cipher        esp.Cipher
	// AH, if valid, makes the pair AH (PeerConfig.AH: integrity only)
	// with this transform; Cipher is then 0 and the keys are laid out as
	// ah.Config.Key wants them (an HMAC key, or AES-GMAC's key || salt).
	AH            ah.Integ
	InKey, OutKey KeyMaterial
	ESN           bool
	Mode          Mode
	// Local and Remote are the outer addresses. With UDPEncap, ESP
	// travels in UDP (RFC 3948) between these ports (4500 normally).
	Local, Remote netip.AddrPort
	UDPEncap      bool
	// LocalTS and RemoteTS are the narrowed traffic selectors.
	LocalTS, RemoteTS []TrafficSelector
	Lifetime          Lifetime
	// Replaces is the InSPI of the child SA this one rekeys (0 for a new
	// one). Make-before-break: send on the new SA at once, keep accepting
	// on the old one until its ChildSADeleted event.
	Replaces uint32
	Created  time.Time
	// Resource marks an extra per-resource child SA (RFC 9611),
	// negotiated beside the peer's first child with the same selectors,
	// or a rekey of one: the dataplane seals with it alongside the
	// others (fib.Tunnel.Resources) instead of replacing them.
	Resource bool
	// Client, VirtualIP4 and VirtualIP6 are set for a remote-access
	// host (PeerConfig.RemoteAccess): its identity and leased addresses,
	// the only ones RemoteTS holds.
	Client                 string
	VirtualIP4, VirtualIP6 netip.Addr
}

// InConfig is the esp.Config of the inbound SA.
func (c ChildSA) InConfig(replayWindow int) esp.Config {
	return esp.Config{SPI: c.InSPI, Cipher: c.Cipher, Key: c.InKey.Bytes(), ESN: c.ESN, ReplayWindow: replayWindow}
}

// OutConfig is the esp.Config of the outbound SA.
func (c ChildSA) OutConfig() esp.Config {
	return esp.Config{SPI: c.OutSPI, Cipher: c.Cipher, Key: c.OutKey.Bytes(), ESN: c.ESN}
}

func (c ChildSA) String() string {
	return fmt.Sprintf("%s in 0x%08x out 0x%08x %s esn=%v %s %v->%v udp=%v ts %v === %v",
		c.Peer, c.InSPI, c.OutSPI, c.Transform(), c.ESN, c.Mode, c.Local, c.Remote, c.UDPEncap, c.LocalTS, c.RemoteTS)
}

// Transform names the pair's transform: the ESP cipher, or "ah", the AH
// transform and "(integrity only)".
func (c ChildSA) Transform() string {
	if c.AH.IsValid() {
		return "ah " + c.AH.String() + " (integrity only)"
	}
	return c.Cipher.String()
}

// GoString keeps %#v from printing the keys.
func (c ChildSA) GoString() string { return "ike.ChildSA{" + c.String() + "}" }

// LogValue keeps the keys out of structured logs.
func (c ChildSA) LogValue() slog.Value { return slog.StringValue(c.String()) }

// EventKind says what happened.
type EventKind uint8

// Events the engine reports.
const (
	// IKEUp: an IKE SA is established (after IKE_AUTH or an IKE rekey).
	IKEUp EventKind = iota + 1
	// IKEDown: an IKE SA is gone (deleted, expired, peer dead, replaced),
	// or one we initiated failed before it came up; Err says why when it
	// failed.
	IKEDown
	// ChildUp: Child is ready to install.
	ChildUp
	// ChildDown: Child must be removed from the dataplane.
	ChildDown
	// AuthFailed: the peer's AUTH did not verify, or the peer refused
	// ours (AUTHENTICATION_FAILED). No SA exists.
	AuthFailed
)

func (k EventKind) String() string {
	return [...]string{"?", "ike-up", "ike-down", "child-up", "child-down", "auth-failed"}[k]
}

// Event is one thing the engine reports.
type Event struct {
	Kind  EventKind
	Peer  string
	SPIi  uint64 // the IKE SA
	SPIr  uint64
	Child ChildSA // ChildUp, ChildDown
	Err   error   // IKEDown, AuthFailed
}

// Datagram is an IKE message to send: Data is the UDP payload (the non-ESP
// marker included when Local's port is the NAT-T port).
type Datagram struct {
	Local, Remote netip.AddrPort
	Data          []byte
}
