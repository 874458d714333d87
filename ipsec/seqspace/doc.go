// Package seqspace is the sending side's sequence space of an ESP or AH
// SA: the counter that hands out outbound sequence numbers, bounded by
// the SA's limit and, for manually keyed SAs, by a reservation that
// package ipsec/seqstore keeps persisted ahead of use.
//
// Sequence numbers are nonces: AES-GCM and AES-GMAC build their IV from
// them, so a number handed out twice under one key breaks the cipher.
// Counter therefore never returns a number twice, even to concurrent
// callers, and never wraps. The receiving side's window is ipsec/replay.
package seqspace
