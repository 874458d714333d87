//go:build !race

package seqspace

// raceEnabled: see race_on_test.go.
const raceEnabled = false
