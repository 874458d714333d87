// Package seqstore persists the outbound sequence numbers of manually keyed
// ESP SAs, so that a restarted sender never reuses a nonce.
//
// An ESP SA's sequence number is its IV (package esp), and the AEAD nonce
// is the key's salt followed by the IV. An SA keyed by IKE gets fresh keys
// whenever it is made; a manually keyed one has the same key after every
// restart of the daemon, and a sender that counted from 1 again would seal
// with nonces it already used, which for AES-GCM and ChaCha20-Poly1305
// gives away the authentication key and the XOR of plaintexts (RFC 4106
// section 9 warns of exactly this for manual keys). So for every manual
// outbound SA the Store keeps a high-water mark on disk, above every
// sequence number the SA may have used, and a restarted sender continues
// above it. Because of that, the receiving end can keep anti-replay on.
//
// # Reservations
//
// The packet path does no I/O. Attach reserves a block of sequence numbers
// (Block, 2^20 by default) by writing the new mark to disk and syncing it
// before the SA may use any number in the block (Sequenced.Reserve, esp.SA or ah.SA, stops
// Seal at the mark). When an SA has used half of its block, Seal asks for
// more (a non-blocking signal); a goroutine writes mark + Block, syncs it
// and only then raises the SA's ceiling (Sequenced.Extend). If the write
// fails, the SA stops sealing at the old mark, dropping and counting
// (SeqExhausted), and the write is retried every second; it never seals
// beyond what is on disk. After a crash, everything up to the mark counts
// as possibly used.
//
// Why 2^20: at a million packets a second on one SA the store writes about
// once a second, and the half block left when it starts writing lasts half
// a second, enough for a sync on a slow disk. Each restart skips what was
// left of the block, at most 2^20 of the 2^32 numbers an SA without ESN
// has: thousands of restarts before the key must be rotated anyway.
//
// # Which mark belongs to which key
//
// The mark is kept per key, not per tunnel: the nonce repeats if the key
// repeats, whichever tunnel or SPI it is configured on. A key is known by
// its fingerprint, HMAC-SHA256 under a random salt kept in the state file
// (so a stolen state file cannot be matched against precomputed tables or
// across PEs), truncated to 128 bits; the remote PE and SPI are recorded
// beside it for people. The file never holds a key. The same key on two
// tunnels at once is refused (ErrKeyInUse): they would share nonces.
//
// One file, DIR/esp-sequences, holds every key's mark, checksummed and
// written whole (temporary file, fsync, rename, fsync of the directory),
// so it is either the old file or the new one, never a mix. Marks are
// kept after their SA goes, so a key that comes back continues where it
// stopped. At Attach:
//
//   - the key's fingerprint is in the file: continue above its mark;
//   - it is not, and the file is readable: a new key (a first start, a new
//     tunnel, a rotation) starts at 1;
//   - there is no file and no DIR/lock: a first start (the directory may
//     exist already, made by a package or a container image), and every
//     key starts at 1;
//   - there is no file but DIR/lock is there: a daemon used the directory
//     before, and its first manual key wrote the file, so the file was
//     lost (deleted, or a crash between the two): treated as unreadable,
//     below. Removing the whole directory is the operator saying that
//     every manual key is new: do it only together with new keys;
//   - the file exists but cannot be read or fails its checksum: nothing is
//     known about any key, and Attach fails with a *LostError naming the
//     tunnel, the file and the two ways out, which keeps the tunnel closed
//     (its traffic is dropped and counted). A tunnel with Reset set (the
//     configuration's reset-sequence) starts at 1 instead: the operator
//     accepts the nonce-reuse risk, which is none for a key that was never
//     used and real for one that was. Once the store writes again, it
//     moves the unreadable file aside (esp-sequences.unreadable) and marks
//     the new one as "history lost", so keys it does not list still need
//     Reset until the file is removed.
//
// The directory belongs to one daemon: the store holds an exclusive flock
// on DIR/lock while it is open (the kernel drops it when the process ends,
// even by SIGKILL). A second daemon pointed at the same directory would
// rewrite the file without the first one's marks; instead its manual
// tunnels stay closed (ErrDirInUse).
//
// Reset only matters when a key's mark is unknown: a readable mark is
// always honoured, so leaving reset-sequence set does not restart an SA.
package seqstore
