package mpls

// This file gathers every error the package returns, so a caller can see in
// one place what can go wrong and what to do about it.

import (
	"errors"
	"fmt"
)

// Sentinel errors. The packet-path functions (ParseStack, Push, Pop, Swap,
// IngressTTL, EgressTTL) return these directly, never wrapped, so that
// rejecting a malformed packet costs no allocation; compare them with
// errors.Is. Control-plane functions wrap them with context (%w, or the
// typed errors below).
var (
	// ErrInvalidLabel means a value does not fit in 20 bits. It is a
	// programming or configuration error: fix the caller or the config.
	// *LabelError and some *ParseError values unwrap to it.
	ErrInvalidLabel = errors.New("mpls: label out of range 0..1048575")

	// ErrInvalidTC means a traffic class does not fit in 3 bits. A
	// caller bug; TC values come from configuration or a DSCP map.
	ErrInvalidTC = errors.New("mpls: traffic class out of range 0..7")

	// ErrTruncated means the bytes end before a label stack entry with
	// the bottom-of-stack bit set, or a packet is shorter than the header
	// it must hold. Drop the packet and count it.
	ErrTruncated = errors.New("mpls: truncated label stack")

	// ErrTooDeep means a label stack holds more than MaxStackDepth
	// entries. Drop the packet: no VPN service we offer needs that many,
	// and walking further is what an attacker would want.
	ErrTooDeep = errors.New("mpls: label stack deeper than MaxStackDepth")

	// ErrTrailingBytes means Stack.Validate found bytes after the entry
	// with the S bit set: the view holds more than one label stack.
	ErrTrailingBytes = errors.New("mpls: bytes after the bottom-of-stack entry")

	// ErrImplicitNull means Push or Swap was asked to put label 3 on the
	// wire. Implicit null is signalled, never sent: an outgoing label of
	// 3 means "pop" (RFC 3032 section 2.1). Call Pop instead.
	ErrImplicitNull = errors.New("mpls: implicit null label must not be sent")

	// ErrNoHeadroom means Push found fewer than EntrySize bytes before
	// the packet. The buffer pool must reserve more headroom; this is a
	// bug in the caller, not in the packet.
	ErrNoHeadroom = errors.New("mpls: no headroom to push a label")

	// ErrBadOffset means an offset or length does not describe a window
	// of the buffer (negative, or past its end). A caller bug.
	ErrBadOffset = errors.New("mpls: offset or length outside buffer")

	// ErrTTLExpired means forwarding the packet would send it with a TTL
	// of 0. The packet was not modified: drop it, and send an ICMP time
	// exceeded built from it if policy allows (RFC 3032 section 2.3.2).
	ErrTTLExpired = errors.New("mpls: TTL expired")

	// ErrNotIP means the payload under the label stack is not a
	// well-formed IPv4 or IPv6 header. Drop the packet.
	ErrNotIP = errors.New("mpls: payload is not an IPv4 or IPv6 packet")

	// ErrInvalidTTLMode means a TTLMode value is neither Uniform nor
	// Pipe. A caller bug: TTLMode values should come from ParseTTLMode or
	// the named constants.
	ErrInvalidTTLMode = errors.New("mpls: invalid TTL mode")

	// ErrInvalidRange means a label range is empty, reversed, outside
	// 0..MaxLabel or overlaps the reserved labels 0-15. Fix the config.
	ErrInvalidRange = errors.New("mpls: invalid label range")

	// ErrExhausted means every label of an allocator's range is bound.
	// *ExhaustedError unwraps to it. Release labels or widen the range;
	// the route that wanted a label cannot be advertised until then.
	ErrExhausted = errors.New("mpls: label range exhausted")

	// ErrNotAllocated means Release was given a label the allocator has
	// not handed out (or has already taken back). It points at a
	// double release in the caller.
	ErrNotAllocated = errors.New("mpls: label not allocated")

	// ErrInvalidPrefix means ForPrefix was given the zero netip.Prefix.
	ErrInvalidPrefix = errors.New("mpls: invalid prefix")
)

// LabelError reports a value that is not a 20-bit label.
type LabelError struct {
	Value uint32 // the rejected value
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("mpls: label %d out of range 0..%d", e.Value, MaxLabel)
}

// Unwrap returns ErrInvalidLabel.
func (e *LabelError) Unwrap() error { return ErrInvalidLabel }

// ParseError reports text that does not parse as a label, a label range
// or a TTL mode. It names what was being parsed, the input and what is
// wrong with it, in the manner of net/netip.
type ParseError struct {
	What  string // "label", "label range" or "TTL mode"
	Input string // the text that failed
	Msg   string // what is wrong with it
	Err   error  // the class of failure (e.g. ErrInvalidLabel), or nil
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("mpls: parse %s %q: %s", e.What, e.Input, e.Msg)
}

// Unwrap returns the class of failure, if there is one.
func (e *ParseError) Unwrap() error { return e.Err }
