package mpls

// TTL handling where labels meet IP, per RFC 3443. The mode decides whether
// the MPLS core is visible to customers: in Uniform mode every LSR counts as
// an IP hop and traceroute from a CE shows the P routers; in Pipe mode only
// the PEs count and the core stays hidden. Swap (ops.go)
// decrements the label TTL the same way in both modes.

import "strconv"

// TTLMode selects how TTLs cross the IP/MPLS boundary (RFC 3443).
//
// The zero value is Uniform, which is also DefaultTTLMode. Peregrine
// defaults to Uniform because that is what the Linux kernel
// (net.mpls.ip_ttl_propagate=1), Cisco IOS (mpls ip propagate-ttl) and
// Junos do out of the box: packets the kernel forwards and packets we
// forward must agree, and operators expect a PE to behave like theirs.
// Providers that hide the core from VPN customers choose Pipe explicitly,
// as they do on those boxes. TTLMode is a value so a later config knob
// (per VRF, say) can set it; it parses and prints as "uniform" or "pipe".
type TTLMode uint8

const (
	// Uniform makes the LSP transparent to TTL: the label TTL starts
	// from the IP TTL and is copied back at the egress (RFC 3443
	// section 3.1), so each LSR counts as one IP hop.
	Uniform TTLMode = iota
	// Pipe is RFC 3443's Short Pipe model: labels start at PipeTTL, the
	// IP TTL is left alone inside the LSP, and the egress PE, which
	// forwards on the IP header, decrements it as any IP router would.
	// Only the two PEs count as IP hops; P routers are invisible.
	Pipe
)

// DefaultTTLMode is the mode Peregrine uses unless configured otherwise.
const DefaultTTLMode = Uniform

// PipeTTL is the label TTL pushed in Pipe mode, the maximum, as Linux's
// net.mpls.default_ttl does.
const PipeTTL uint8 = 255

// IsValid reports whether m is Uniform or Pipe.
func (m TTLMode) IsValid() bool { return m <= Pipe }

// String returns "uniform" or "pipe", or "TTLMode(n)" for an invalid mode.
func (m TTLMode) String() string {
	switch m {
	case Uniform:
		return "uniform"
	case Pipe:
		return "pipe"
	}
	return "TTLMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseTTLMode parses "uniform" or "pipe". Errors are *ParseError values
// that unwrap to ErrInvalidTTLMode.
func ParseTTLMode(s string) (TTLMode, error) {
	switch s {
	case "uniform":
		return Uniform, nil
	case "pipe":
		return Pipe, nil
	}
	return 0, &ParseError{What: "TTL mode", Input: s, Msg: `want "uniform" or "pipe"`, Err: ErrInvalidTTLMode}
}

// MarshalText implements encoding.TextMarshaler. It fails for an invalid
// mode.
func (m TTLMode) MarshalText() ([]byte, error) {
	if !m.IsValid() {
		return nil, ErrInvalidTTLMode
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseTTLMode.
func (m *TTLMode) UnmarshalText(text []byte) error {
	v, err := ParseTTLMode(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// IngressTTL does the ingress PE's TTL step for an IP packet about to
// enter an LSP, and returns the TTL to give the labels it pushes.
//
// The ingress PE is an IP hop in both modes, so IngressTTL decrements the
// IPv4 TTL (fixing the header checksum incrementally, RFC 1624) or IPv6
// hop limit of inner in place; do not decrement it again. It then returns
// the decremented IP TTL in Uniform mode (RFC 3443 section 3.1) and
// PipeTTL in Pipe mode.
//
// It fails, leaving inner unchanged, with ErrInvalidTTLMode, ErrNotIP if
// inner does not start with an IPv4 or IPv6 header, and ErrTTLExpired if
// the IP TTL is 0 or 1.
func IngressTTL(mode TTLMode, inner []byte) (uint8, error) {
	if !mode.IsValid() {
		return 0, ErrInvalidTTLMode
	}
	ttl, err := ipTTL(inner)
	if err != nil {
		return 0, err
	}
	if ttl <= 1 {
		return 0, ErrTTLExpired
	}
	ttl--
	setIPTTL(inner, ttl)
	if mode == Pipe {
		return PipeTTL, nil
	}
	return ttl, nil
}

// EgressTTL does the egress PE's TTL step after the bottom label has been
// popped and before inner, the IP packet that was under it, is forwarded
// as IP. labelTTL is the TTL of the popped entry as received; if the PE
// popped several entries, pass the smallest of their TTLs.
//
// The popped label is a hop in both modes, so a labelTTL of 0 or 1
// expires the packet, as in Linux. In Uniform mode the IP TTL becomes
// min(labelTTL, IP TTL) - 1: the label TTL carries the hops taken in the
// core back into the IP header (RFC 3443 section 3.1), and taking the
// minimum means a label TTL can never raise the IP TTL, even if the
// ingress ran Pipe mode. In Pipe mode the IP TTL becomes IP TTL - 1, the
// ordinary IP forwarding decrement, and the label TTL is otherwise
// ignored. IPv4 checksums are fixed incrementally (RFC 1624).
//
// It fails, leaving inner unchanged, with ErrInvalidTTLMode, ErrNotIP if
// inner does not start with an IPv4 or IPv6 header, and ErrTTLExpired if
// labelTTL or the IP TTL is 0 or 1.
func EgressTTL(mode TTLMode, labelTTL uint8, inner []byte) error {
	if !mode.IsValid() {
		return ErrInvalidTTLMode
	}
	ttl, err := ipTTL(inner)
	if err != nil {
		return err
	}
	if ttl <= 1 || labelTTL <= 1 {
		return ErrTTLExpired
	}
	if mode == Uniform {
		ttl = min(ttl, labelTTL)
	}
	setIPTTL(inner, ttl-1)
	return nil
}
