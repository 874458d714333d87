//go:build race

package esptransport

const raceEnabled = true
