//go:build race

package ah

// raceEnabled is set in -race builds, where sync.Pool drops a random share
// of what it is given, so the per-call state is allocated now and then;
// the allocation tests run only without -race.
const raceEnabled = true
