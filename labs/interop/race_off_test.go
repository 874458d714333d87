//go:build !race

package interop_test

// raceOn says the race detector is on: it slows the dataplane several
// times over.
const raceOn = false
