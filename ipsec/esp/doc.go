// Package esp seals and opens IPsec ESP packets (RFC 4303) for one security
// association at a time, with the AEAD transforms AES-GCM (RFC 4106, 16-byte
// ICV) and ChaCha20-Poly1305 (RFC 7634), or AES-CBC (RFC 3602) with
// HMAC-SHA-256-128, -384-192 or -512-256 (RFC 4868), encrypt-then-MAC;
// 64-bit extended sequence numbers and an RFC 6479 anti-replay window.
//
// It works on the ESP packet from the SPI on. Outer IPv4/IPv6 headers and
// UDP encapsulation (RFC 3948) belong to package ipsec/wire.
//
// # Packet layout
//
// RFC 4303 section 2, with the 8-byte explicit IV of RFC 4106 and RFC 7634
// at the start of the payload data:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ---
//	|               Security Parameters Index (SPI)                 |   ^ AAD
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   |
//	|                Sequence Number (low 32 bits)                  |   v
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ---
//	|                  Initialization Vector (8 bytes)              |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ---
//	|       Payload Data (inner IPv4/IPv6 packet, MPLS label        |   ^
//	~       stack, or transport-mode upper-layer data)              ~   |
//	|                                                               |   | en-
//	+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   | cryp-
//	|               |     Padding 1, 2, 3, ... (0-3 bytes here)     |   | ted
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   |
//	|                               |  Pad Length   | Next Header   |   v
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ---
//	|         Integrity Check Value (16 bytes: GCM tag or Poly1305) |
//	~                                                               ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The AEAD nonce is salt || IV (4 + 8 bytes), the salt being the last 4
// bytes of the key material. The additional authenticated data is SPI ||
// sequence number (8 bytes), or with ESN SPI || high 32 bits || low 32 bits
// (12 bytes; RFC 4106 section 5, RFC 7634 section 3). Only the low 32 bits
// travel; the receiver infers the high bits (RFC 4303 appendix A).
//
// The IV is the 64-bit sequence number of the packet. RFC 4106 section 3.1
// and RFC 7634 section 2 only require that an IV never repeat under one key,
// and suggest a counter; the sequence number is one that Seal already makes
// unique per SA (it refuses to wrap, see ErrSequenceExhausted).
//
// Padding is the minimum that ends the payload, padding and the two trailer
// bytes on a 4-byte boundary (the AEADs are stream ciphers, block size 1);
// pad bytes are 1, 2, 3, ... and Open verifies them. No TFC padding is sent.
//
// # AES-CBC with HMAC-SHA2
//
// RFC 3602 and RFC 4868: a 16-byte IV, padding to a whole number of AES
// blocks, and an ICV that authenticates everything before it:
//
//	+---------------+---------------+  ---
//	|      SPI      |  seq (low 32) |   ^
//	+---------------+---------------+   |
//	|      IV (16 bytes, random)    |   | HMAC input (with ESN, followed
//	+-------------------------------+   | by the high 32 bits of the
//	| AES-CBC(payload | padding     |   | sequence number, which are
//	|   1, 2, ... (0-15 bytes) |    |   | not sent: RFC 4303 2.2.1)
//	|   pad length | next header)   |   v
//	+-------------------------------+  ---
//	| ICV: HMAC truncated to half   |
//	| the hash (16, 24, 32 bytes)   |
//	+-------------------------------+
//
// The key material is the AES key (16 or 32 bytes) followed by the HMAC
// key (32, 48 or 64 bytes: the hash's output size, RFC 4868 2.1.1), the
// order of RFC 4301 4.4.2 and RFC 7296 2.17. Seal encrypts, then MACs;
// Open checks the ICV in constant time (crypto/subtle) before it decrypts
// anything, so a forged packet never reaches the block cipher or the
// padding check.
//
// The IV is not the sequence number: RFC 3602 section 3 wants CBC IVs an
// attacker cannot predict, and a counter is predictable (the attack on
// TLS 1.0's chained IVs). Each SA draws a 16-byte AES key from crypto/rand
// at NewSA, used for nothing else, and the IV of the packet with sequence
// number s is AES(that key, s || 0^64): a pseudorandom permutation of the
// sequence numbers, so unpredictable without the key even though s is on
// the wire, and never repeated since Seal never reuses s. It costs one AES
// block and needs no lock or state beyond the sequence number Seal already
// takes atomically. (Encrypting s with the data key instead would give an
// attacker encryptions of chosen counters under that key.)
//
// The CBC modes and the HMAC carry state through a call and allocate when
// made, so each SA keeps them in a sync.Pool: a call borrows one set (the
// IV is set with SetIV, the HMAC Reset to its precomputed keyed state) and
// returns it. The pool is per P, so concurrent Seal and Open calls on one
// SA still take no lock, and in steady state nothing is allocated (a pool
// emptied by a garbage collection refills with one allocation per P).
//
// # Buffers and allocation
//
// Seal and Open work in place in the caller's buffer and allocate nothing.
// The sizes that depend on the suite are methods of Cipher (IVLen, ICVLen,
// TrailerLen, Overhead, MaxOverhead); Headroom, MaxTrailer and MaxOverhead
// are the largest over all suites, so a buffer laid out with them suits
// any SA. For the AEADs, passing a nonce or AAD array from the stack to a cipher.AEAD method makes
// the compiler move it to the heap (the interface hides the callee), so
// instead both functions borrow the ScratchLen bytes just in front of the
// ESP header, in the caller's buffer, and lay the nonce and the AAD out there
// and over the header for the duration of the AEAD call:
//
//	buf:  [ ... | scratch (8) | SPI | seq | IV | payload ... ]
//	call:       [ salt | IV (nonce, 12) | SPI | [seq hi] | seq lo (AAD) ]
//
// Seal then writes the real header over that region (AES-CBC needs no
// scratch: the HMAC runs over the packet as it stands). The scratch bytes are
// where the outer UDP/IP header goes on output and where it came from on
// input, so the only rule for the caller is: read what you need from the
// 8 bytes in front of the ESP packet before calling Open. Because all scratch
// lives in the packet's own buffer, any number of goroutines may Seal and
// Open concurrently on one SA (one buffer per goroutine), with no lock, pool
// or per-worker state.
//
// # Concurrency
//
// An SA is safe for concurrent use: Seal takes its sequence number with an
// atomic compare-and-swap, and Open uses the lock-free replay.Window
// (check before decryption, update after authentication; a race between two
// copies of one packet is caught by the update's compare-and-swap, which
// also counts the packet and its bytes). Counters are atomic.
//
// Finding the SA for a received packet by its SPI is not this package's
// (it works on one SA at a time): esptransport.InboundTable does it.
package esp
