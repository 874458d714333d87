//go:build !race

package bgp

// releaseRIBs: stopGoBGP empties a stopped server's RIB (releaseRIB).
const releaseRIBs = true
