//go:build !race

package esp

// raceEnabled: see race_on_test.go.
const raceEnabled = false
