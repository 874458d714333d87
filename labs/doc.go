// Package labs holds Peregrine's test labs: topologies of network namespaces
// joined by veth pairs, run on one Linux host without Docker, with real BGP
// peers (FRR, BIRD, gobgpd) and peregrined inside them.
//
//   - labs/netns builds and tears down the namespaces, links and supervised
//     processes; it takes a *slog.Logger and never imports testing, so that
//     the lab tools reuse it outside tests: labs/clab (the Docker-free
//     containerlab runner behind cmd/peregrine-lab) builds its labs, whose
//     namespaces and detached daemons outlive the runner, from its
//     primitives, and bgpbench supervises its daemons with it.
//   - labs/peers drives real BGP speakers in a namespace and reads their RIBs
//     back as Go values; its own tests prove every driver against another
//     real peer, so the parsers are checked against real output.
//
// Tests that need root, iproute2 or a peer daemon skip with a message naming
// what is missing.
package labs
