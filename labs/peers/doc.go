// Package peers drives real BGP speakers (FRR's bgpd, BIRD 2, gobgpd) inside
// lab nodes, so Peregrine's BGP can be tested against implementations it
// shares no code with.
//
// Each driver writes its daemon's config into the lab's directory, starts the
// daemon in the foreground under the lab's supervision (so its log is
// captured and Lab.Close stops it), waits until it answers its control
// socket, and then reads its RIB back as []VPNRoute: from JSON where the
// daemon has it (vtysh ... json, gobgp -j), from text where it does not
// (birdc). Every driver satisfies Speaker, so a test can say "wait until
// every peer has 10.1.0.0/24 with RD 65000:1, label 100 and RT 65000:1" with
// WaitRoute, whatever the peer.
//
// Values are compared as the peers print them, normalised: RDs and RTs as
// "ADMIN:NUMBER" (four-octet ASNs as plain numbers, never asdot), labels as
// numbers. This package deliberately does not use Peregrine's own bgp/vpn or
// mpls types: an oracle that shares parsing code with the system under test
// would share its bugs.
//
// How each daemon starts on these hosts, and the quirks met on the way, are
// at the top of each driver's file.
package peers
