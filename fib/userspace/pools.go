package userspace

import (
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"github.com/peregrine-net/peregrine/mpls"
)

// Buffer layout. Every packet lives in a buffer allocated once and reused:
// a socket reader owns its batch for its lifetime, a TUN reader borrows
// one from a shared pool while a batch is in flight (readbatch.go), so
// idle VRFs hold none. Nothing is allocated or copied per packet, headers
// are written into the headroom in front of a packet and ESP seals and
// opens in place. The buffers are mapped memory outside the Go heap
// (bufmem.go).
//
// Outbound (read from a TUN at outHeadroom):
//
//	[ outer IP+UDP (48) | scratch | SPI seq IV (32) | labels (16) | inner IP packet ... | trailer (49) ]
//	                                                              ^ outHeadroom
//
// (room for any suite: esp.Headroom and esp.MaxTrailer are the largest,
// AES-CBC's 16-byte IV and HMAC-SHA-512's 15 pad bytes and 32-byte ICV).
//
// Inbound (received from a socket at inHeadroom):
//
//	[ 16 | outer IPv4 (raw sockets only) | SPI seq IV | label | inner IP packet ... | trailer, ICV ]
//	     ^ inHeadroom: esp.ScratchLen for Open, and room for the TUN's virtio header
const (
	batchSize   = 128 // packets per read or write, as wireguard-go's conn.IdealBatchSize
	labelRoom   = maxLabels * mpls.EntrySize
	outHeadroom = wire.MaxOuterHeaderLen + esp.Headroom + labelRoom
	outTailroom = esp.MaxTrailer
	inHeadroom  = 16
	// tunOffset is the offset handed to tun.Device.Write: it needs
	// virtioNetHdrLen (10) bytes in front of each packet.
	tunOffset = 16
	// maxDatagram is the largest datagram a socket reader accepts. It is
	// also what lets tun.Device.Write coalesce TCP segments (GRO) into
	// the first segment's buffer.
	maxDatagram = 65535
	inBufSize   = inHeadroom + maxDatagram
)

// outBufSize is the size of an outbound buffer for TUN MTU mtu.
func outBufSize(mtu int) int { return outHeadroom + mtu + outTailroom }
