// Package labs holds Peregrine's test labs: topologies of network namespaces
// joined by veth pairs, run on one Linux host without Docker, with real BGP
// peers (FRR, BIRD, gobgpd) and peregrined inside them.
//
//   - labs/netns builds and tears down the namespaces, links and supervised
//     processes; it takes a *slog.Logger so that the `peregrine-lab deploy`
//     runner can reuse it outside tests.
//   - labs/peers drives real BGP speakers in a namespace and reads their RIBs
//     back as Go values; its own tests prove every driver against another
//     real peer, so the parsers are checked against real output.
//
// Tests that need root, iproute2 or a peer daemon skip with a message naming
// what is missing.
package labs
