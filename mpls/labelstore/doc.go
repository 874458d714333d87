// Package labelstore keeps the label allocator's state (mpls.AllocatorState)
// in the state directory, so that a restarted PE advertises every VRF and
// prefix with the label it had, and keeps a released label held down across
// the restart.
//
// Why: remote PEs hold routes carrying this PE's labels, through a graceful
// restart for the restart and stale times, and without one until they see
// the session drop. If a restarted PE handed label 1001 to VRF blue while a
// remote PE still sent red's traffic under it, red's traffic would pop into
// blue: a leak between customers. So a label must mean the same after a
// restart, and one that changes meaning must wait out the hold-down.
//
// One file, DIR/labels, holds the state, checksummed and written whole
// (temporary file, fsync, rename, fsync of the directory) in the manner of
// ipsec/seqstore: it is the old file or the new one, never a mix. The
// speaker saves it before it advertises a route with a new label, so no
// label is ever advertised that the file does not bind.
//
// The directory's DIR/labels.lock is held (flock, exclusive) while the
// store is open; the kernel drops it when the process ends, however it
// ends. A second daemon on the same directory fails to open it
// (ErrDirInUse). It is a lock of its own, beside seqstore's DIR/lock, so
// that each store owns its file whatever order they are opened in.
//
// A missing file is a first start. A file that cannot be read or fails its
// checksum stops the daemon (*CorruptError, naming the file): guessing
// would risk giving a label a new meaning. The way out is to move the file
// aside; the daemon then allocates afresh, and remote PEs may hold routes
// with the old labels until they learn the new ones, so do it with the
// sessions down for longer than the neighbors' restart time, or accept
// that risk.
package labelstore
