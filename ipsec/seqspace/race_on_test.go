//go:build race

package seqspace

// raceEnabled is set in -race builds, whose instrumentation allocates, so
// the allocation test checks Next only without -race.
const raceEnabled = true
