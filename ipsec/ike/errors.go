package ike

import (
	"errors"
	"fmt"
)

// Sentinel parse errors. A *ParseError wraps one of them, so callers test
// with errors.Is and drop the message: none of these can be answered with
// anything but silence (RFC 7296 section 2.21.1: an unauthenticated
// malformed message gets no reply).
var (
	// ErrTruncated: a length field points past the end of the data.
	ErrTruncated = errors.New("truncated")
	// ErrBadLength: a length field is smaller than its header, or the
	// header's message length disagrees with the datagram.
	ErrBadLength = errors.New("bad length")
	// ErrBadVersion: the major version is not 2 (answer an IKE_SA_INIT
	// with INVALID_MAJOR_VERSION at most).
	ErrBadVersion = errors.New("unsupported major version")
	// ErrCritical: an unknown payload has its critical bit set; the
	// responder answers UNSUPPORTED_CRITICAL_PAYLOAD.
	ErrCritical = errors.New("unsupported critical payload")
	// ErrSKNotLast: an Encrypted payload is followed by another payload
	// (RFC 7296 section 3.14: it must be last).
	ErrSKNotLast = errors.New("encrypted payload not last")
	// ErrMalformed: a field holds a value the RFC forbids.
	ErrMalformed = errors.New("malformed")
	// ErrAuthTag: the Encrypted payload failed AEAD authentication. The
	// message is dropped; it may be forged.
	ErrAuthTag = errors.New("integrity check failed")
)

// ParseError says where in a message parsing failed. Offset counts from
// the start of the IKE header (or of the decrypted inner payloads, when
// Inner is set).
type ParseError struct {
	What   string // the structure being read, e.g. "proposal 2 transform 1"
	Offset int
	Inner  bool
	Err    error // one of the sentinels above
}

func (e *ParseError) Error() string {
	where := "message"
	if e.Inner {
		where = "encrypted payloads"
	}
	return fmt.Sprintf("ike: %s: %v at %s offset %d", e.What, e.Err, where, e.Offset)
}

func (e *ParseError) Unwrap() error { return e.Err }

func perr(what string, off int, err error) error {
	return &ParseError{What: what, Offset: off, Err: err}
}

// NotifyError is a protocol failure that the engine reports to the peer as
// an error Notify payload of type Type (RFC 7296 section 3.10.1), and to the
// local log with Reason. Reason never contains key material or the PSK.
type NotifyError struct {
	Type   NotifyType
	Data   []byte // notification data, e.g. the accepted DH group
	Reason string
}

func (e *NotifyError) Error() string {
	return fmt.Sprintf("ike: %s: %s", e.Type, e.Reason)
}

func notifyErr(t NotifyType, format string, args ...any) *NotifyError {
	return &NotifyError{Type: t, Reason: fmt.Sprintf(format, args...)}
}
