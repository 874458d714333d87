//go:build !race

package bgp

// raceEnabled: the tests run under the race detector.
const raceEnabled = false
