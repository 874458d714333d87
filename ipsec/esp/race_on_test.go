//go:build race

package esp

// raceEnabled is set in -race builds, where sync.Pool drops a random share
// of what it is given (to shake out misuse), so the CBC suites, which pool
// their per-call state, allocate now and then; the allocation tests check
// them only without -race.
const raceEnabled = true
