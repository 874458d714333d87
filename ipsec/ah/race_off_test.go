//go:build !race

package ah

// raceEnabled: see race_on_test.go.
const raceEnabled = false
