// Package ipsec gathers Peregrine's IPsec: the ESP protection of traffic
// that crosses untrusted links between provider edges. The work lives in
// subpackages:
//
//   - esp: security associations that seal and open ESP packets (RFC
//     4303) with AES-GCM (RFC 4106), ChaCha20-Poly1305 (RFC 7634) and
//     AES-CBC (RFC 3602) with HMAC-SHA-256/384/512 (RFC 4868), with
//     extended sequence numbers and anti-replay.
//   - replay: the RFC 6479 anti-replay window esp uses.
//   - wire: the outer IPv4/IPv6 header and the ESP-in-UDP encapsulation
//     (RFC 3948) around an ESP packet, built and parsed in place.
//   - ike: IKEv2 (RFC 7296), which authenticates peers and negotiates the
//     SAs.
//   - keying: the service that turns configured tunnels and IKE's child
//     SAs into the FIB's tunnels (make-before-break, byte and sequence
//     limits), the FIB configuration's one owner while the daemon runs.
//   - seqstore: the persisted sequence numbers of manually keyed SAs, so
//     that a restarted sender never reuses a nonce.
//   - pcap: a small pcap reader and writer for golden captures and the demo.
//
// This package itself holds no code, only the tests that cross the
// subpackages: golden captures in testdata/ (ESP packets for every cipher,
// outer family and encapsulation, with their keys in .sa files), read back
// and resealed byte for byte by our code, and decrypted by tshark as an
// independent decoder. Run "go test ./ipsec -update" to rewrite them after
// a deliberate wire-format change.
package ipsec
