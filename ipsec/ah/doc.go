// Package ah builds and verifies IPsec Authentication Header packets (RFC
// 4302) for one security association at a time: integrity and anti-replay
// without confidentiality. Between provider edges AH is an explicit choice
// per tunnel: the MPLS label stack and the customer packet travel in the
// clear, protected against change, and `show ipsec sa` must say so (SA's
// String says "integrity only").
//
// Transforms: HMAC-SHA-256-128 (RFC 4868) and AES-GMAC with 128- or
// 256-bit keys (RFC 4543). Extended sequence numbers are optional; their
// high 32 bits enter the ICV after the packet and are never sent (RFC 4302
// sections 2.5.1 and 3.3.3.2). The anti-replay window is ipsec/replay's,
// as ESP's, and ESN inference is the same (replay.Window.InferESN).
//
// # Packet layout
//
// RFC 4302 section 2, with the 8-byte IV of RFC 4543 for AES-GMAC:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Header   |  Payload Len  |          RESERVED             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Security Parameters Index (SPI)               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Sequence Number (low 32 bits)                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        AES-GMAC only: Initialization Vector (8 bytes)         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Integrity Check Value (16 bytes)                       |
//	~        + zero padding to a multiple of 8 bytes (3.3.3.2.1)    ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Payload Len is the header's length in 32-bit words minus 2: 6 for
// HMAC (32 bytes), 8 for GMAC (40). Seal pads to 8 bytes over IPv4 too,
// as Linux's ah4 does and requires, although RFC 4302 asks only for 4
// there; Open also accepts the RFC's shorter IPv4 form (5 for HMAC, 28
// bytes; 7 for GMAC, 36) and refuses any other length.
//
// # What the ICV covers
//
// RFC 4302 section 3.3.3.1: the IP header with its mutable fields zeroed
// (IPv4: TOS, flags and fragment offset, TTL, checksum; IPv6: traffic
// class, flow label, hop limit), the AH header with the ICV zeroed (the
// padding after it is covered as sent, section 3.3.3.2.1, as Linux's ah4
// and ah6 do: theirs is not even zero), and the payload; with ESN, then the high 32 bits of the
// sequence number. HMAC-SHA-256 runs over that and is truncated to 16
// bytes. AES-GMAC (RFC 4543) is AES-GCM with an empty plaintext, the
// whole ICV input as additional data and the nonce salt || IV, the salt
// being the last 4 bytes of the key material; the tag is the ICV. The IV
// is the sequence number: unique per SA since Seal never reuses one
// (ErrSequenceExhausted), and a manually keyed GMAC SA, whose sender could
// restart at 1 under the same key, seals nothing until Reserve has placed
// its sequence above every number the key may have used (Config.ManualKey;
// package ipsec/seqstore persists it, as for ESP).
//
// The fields are zeroed in the caller's buffer for the computation and
// put back afterwards, so the ICV input is one contiguous slice (GMAC
// needs it so) and nothing is copied. For GMAC with ESN the 4 bytes after
// the packet are borrowed the same way (ESNTailroom).
//
// Neither IPv4 options nor IPv6 extension headers are accepted: each has
// mutable parts of its own to classify, and refusing them keeps the
// parser an attacker reaches before authentication small (fail closed).
// Fragments are dropped (RFC 4302 section 3.4.1).
//
// # Modes
//
// SealTunnel builds an outer IPv4 or IPv6 header and AH in front of an
// inner packet or MPLS label stack (next header 4, 41 or 137). SealTransport
// inserts AH between an IP packet's header and its payload, moving the
// header up into the headroom. Open verifies either and returns what AH
// protects; OpenTransport also removes AH from a transport-mode packet.
//
// # Buffers, allocation, concurrency
//
// All calls work in place in the caller's buffer with headroom (Headroom)
// and allocate nothing in steady state: the HMAC state and the GMAC nonce
// and tag live in a per-SA sync.Pool, as esp's CBC suites do. An SA is safe
// for concurrent use (one buffer per goroutine).
//
// # Not here
//
// Wiring into the tunnels (fib/userspace, over IPv4 and IPv6 cores),
// configuration, IKE negotiation (ipsec/ike's PeerConfig.AH: the IKEv2
// integrity transform IDs in Integ's doc, KEYMAT in Config.Key's layout)
// and `show ipsec sa` are other packages' work.
package ah
