//go:build race

package nlbatch

const raceEnabled = true
