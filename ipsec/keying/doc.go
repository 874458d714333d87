// Package keying owns the FIB's configuration while the daemon runs: the
// configuration file's static part (VRFs, manually keyed tunnels) merged
// with one tunnel per IKE peer built from the child SAs the IKE engine
// reports. Every child SA event, every limit reached and every reload
// pushes the merge to the fib.Reconciler; nothing else calls SetConfig.
//
// A Service is single-owner, like the fib Reconciler and the IKE engine:
// one goroutine (Run) holds the child SAs and the static config, and the
// engine's callbacks, reloads, timers and the limit ticker hand it
// closures. It never waits on the engine from that goroutine: what it asks
// of the engine (rekey, delete) runs on a goroutine of its own, since the
// engine's callbacks into the Service wait for Run.
//
// The lifecycle of a peer's tunnel:
//
//   - Make-before-break: a rekeyed child's new inbound SA becomes the
//     tunnel's In at once and its outbound SA the Out
//     Options.OutSwitchDelay after the FIB installed it; the old inbound
//     SA stays in RetiringIn, still opening, until the engine reports it
//     deleted (the rekey's initiator deletes it once the new SA is in
//     place, RFC 7296 section 2.8), and Options.RetireGrace after the FIB
//     installed that, for packets on their way. A *fib.Reconciler says
//     when its dataplane installed a config (AckingFIB) and installs SAs
//     ahead of route work (fib.TunnelApplier), so neither timer runs
//     while a rekey waits behind a busy FIB.
//   - Answer after install: Watch has the IKE runner send the response
//     that brings a child up (IKE_AUTH, CREATE_CHILD_SA) only once the
//     FIB has installed the child (WaitInstalled, ike.Runner.AwaitInstalled),
//     since the peer may seal with the new SA as soon as it has the
//     response; past Options.InstallTimeout the response is withheld, as
//     if lost, and the peer's retransmission answered.
//   - Limits, every Options.LimitInterval, from the dataplane's counters
//     (fib.Counterer): at soft-bytes, or past esp's soft sequence limit
//     (esp.SA.NeedsRekey), a rekey is asked for once; at hard-bytes,
//     sequence numbers exhausted or the hard lifetime the child stops
//     sealing in the FIB at once and its delete is asked for.
//   - With no live child nothing seals toward the peer: its traffic is
//     dropped, never sent in clear, until a new child comes up.
//
// IPsec attachments (config's vrfs[].ipsec-attachments, Options.Attachments)
// follow the same lifecycle, keyed by name rather than address, and
// become the FIB's Attachments of their VRF: the gateway's address and
// port and the narrowed traffic selectors as prefixes. Options.OnAttached
// hears the up attachments' site prefixes by VRF, which bgp exports.
// A remote-access pool (kind: pool) is one IKE peer with many hosts: each
// host's children (ike.ChildSA.VirtualIP4 set) are keyed by the pool's
// name and the host's leased address and become a fib.Attachment of
// their own (PoolHostName, "pool/leased") whose only site prefixes are
// the host's leased addresses.
//
// Keys reach the FIB only as fib.SAParams; the Service logs SPIs, never
// keys.
package keying
