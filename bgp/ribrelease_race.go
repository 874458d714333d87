//go:build race

package bgp

// releaseRIBs is off under the race detector: releaseRIB's StartBgp
// writes GoBGP's package-wide best-path options, which the other GoBGP
// servers of the process read as they select best paths, and the
// detector reports each such pair (shutdown.go says why it is benign).
const releaseRIBs = false
