// Package wire builds and parses the outer headers around an ESP packet:
// the IPv4 (RFC 791) or IPv6 (RFC 8200) header, the UDP header of
// ESP-in-UDP (RFC 768, RFC 3948) and the RFC 3948 demultiplexing of what
// arrives on UDP port 4500 (ESP, IKE behind a non-ESP marker, NAT-keepalive).
//
// The dataplane uses two calls: [Encapsulate] writes the outer headers into
// the headroom in front of a sealed ESP packet, and [Decapsulate] parses a
// received IP packet and returns the ESP (or IKE) bytes in place. Below
// them sit header views in the shape of gVisor's pkg/tcpip/header: [IPv4],
// [IPv6] and [UDP] are byte slices with accessors, produced by [ParseIPv4],
// [ParseIPv6] and [ParseUDP] (call these first: accessors trust that the
// view was validated) and written by [PutIPv4], [PutIPv6] and [PutUDP].
//
// Rules, taken from wireguard-go and net/netip:
//
//   - Packets live in caller buffers with headroom; nothing is copied and
//     nothing allocates, on success or on error. Errors are constants of
//     type [Error], so a flood of garbage costs no garbage collection.
//     Tests assert zero allocations with testing.AllocsPerRun.
//   - Parsers never panic on any input; they are fuzzed.
//   - Addresses are netip.Addr values built from stack arrays.
//
// Out of scope, on purpose: IP fragment reassembly (a fragment is reported
// as [ErrFragment] and dropped: a tunnel endpoint should size packets to the
// path MTU instead), IPv4 options on output, and IPv6 extension headers,
// which are rejected rather than walked (see [ParseIPv6]).
package wire

// IP protocol numbers and ports this package deals in.
const (
	ProtoESP  = 50   // IP protocol number of ESP (RFC 4303)
	ProtoUDP  = 17   // IP protocol number of UDP (RFC 768)
	ProtoMPLS = 137  // MPLS-in-IP (RFC 4023): ESP next header for a label stack
	PortNATT  = 4500 // UDP port of ESP-in-UDP and IKE with NAT traversal (RFC 3948)
)

// Header sizes. MaxOuterHeaderLen is the headroom [Encapsulate] may need in
// front of an ESP packet: an IPv6 header plus a UDP header.
const (
	IPv4HeaderLen     = 20 // without options
	IPv6HeaderLen     = 40 // fixed header, no extension headers
	UDPHeaderLen      = 8
	MaxOuterHeaderLen = IPv6HeaderLen + UDPHeaderLen
)
