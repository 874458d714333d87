package userspace

import "encoding/binary"

// ethFrame is a view of an Ethernet II frame as a packet socket reads and
// writes it on a core interface (IEEE 802.3, no FCS: the NIC adds and
// strips it):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  destination MAC (6 bytes)                    |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+    source MAC (6 bytes)       +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   EtherType (0x8847)          |  label stack (RFC 3032) ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Call IsValid first; the accessors assume it.
type ethFrame []byte

// ethHeaderLen is an untagged Ethernet header's length. Frames carry
// etherTypeMPLS (mplstun.go), unicast; multicast MPLS (0x8848) is not a
// PE's VPN traffic.
const ethHeaderLen = 14

// IsValid reports whether f holds a whole Ethernet header.
func (f ethFrame) IsValid() bool { return len(f) >= ethHeaderLen }

// EtherType is the frame's EtherType (no VLAN tag is expected on a core
// interface: a tagged frame's type is 0x8100 and is refused).
func (f ethFrame) EtherType() uint16 { return binary.BigEndian.Uint16(f[12:14]) }

// Source is the sender's MAC address.
func (f ethFrame) Source() [6]byte { return [6]byte(f[6:12]) }

// Payload is what follows the header.
func (f ethFrame) Payload() []byte { return f[ethHeaderLen:] }

// ethHeader is the 14 bytes written in front of each MPLS packet sent
// toward one next hop: its MAC, the core interface's, and 0x8847.
type ethHeader [ethHeaderLen]byte

func makeEthHeader(dst, src [6]byte) ethHeader {
	var h ethHeader
	copy(h[0:6], dst[:])
	copy(h[6:12], src[:])
	binary.BigEndian.PutUint16(h[12:14], etherTypeMPLS)
	return h
}
