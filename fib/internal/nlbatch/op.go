package nlbatch

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// Op is what a batch asks of the kernel for each of its requests.
type Op struct {
	// Type is the message type (RTM_NEWROUTE, RTM_DELRULE, ...).
	Type uint16
	// Flags are the request's flags beside NLM_F_REQUEST (NLM_F_ACK is
	// the writer's to set).
	Flags uint16
	// Verb names the request in an error, as the ip command that makes
	// it: "ip route replace".
	Verb string
	// Done is the errno that means the object is already as asked (a
	// delete of a route that is gone), 0 for none.
	Done syscall.Errno
	// KeyOnly: the request names a route by its key, not its next hop
	// (AppendRouteMsg).
	KeyOnly bool
}

var (
	// ReplaceRoute is `ip route replace`: create or replace.
	ReplaceRoute = Op{Type: unix.RTM_NEWROUTE, Flags: unix.NLM_F_CREATE | unix.NLM_F_REPLACE, Verb: "ip route replace"}
	// DeleteRoute is `ip route del`, by key; a route already gone is no
	// error.
	DeleteRoute = Op{Type: unix.RTM_DELROUTE, Verb: "ip route del", Done: unix.ESRCH, KeyOnly: true}
	// AddRule is `ip rule add`, without NLM_F_EXCL: the kernel would walk
	// every rule to look for an equal one, and the callers have dumped
	// the rules and know there is none.
	AddRule = Op{Type: unix.RTM_NEWRULE, Flags: unix.NLM_F_CREATE, Verb: "ip rule add"}
	// DeleteRule is `ip rule del`.
	DeleteRule = Op{Type: unix.RTM_DELRULE, Verb: "ip rule del"}
)

var (
	// ErrNoDestination: a route to encode has neither a prefix nor a
	// label. It is named and not sent.
	ErrNoDestination = errors.New("route without a destination")
	// ErrNoLabel: an MPLS route to encode has no label. It is named and
	// not sent.
	ErrNoLabel = errors.New("MPLS route without a label")
	// ErrOutcomeUnknown: the kernel's answers to a batch were lost (the
	// socket reported ENOBUFS or failed): some of its requests may be
	// applied, some not. The caller must read the kernel's state back
	// (a full sync) before it trusts what it installed.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)
