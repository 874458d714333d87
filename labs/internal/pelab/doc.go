// Package pelab runs Peregrine PEs in network namespace labs for the
// end-to-end tests (labs/interop) and the soak (labs/soak): a peregrined
// driven through its local API (PE), the two-PE, four-CE lab with ESP on
// the core (TwoPE) and CE pings whose lost echoes are placed in time
// (PingRun).
//
// PE decodes the API's JSON into this package's own structs, not the
// daemon's types, so a bug in those types cannot hide here. Helpers that
// can fail a test take a netns.TB (a *testing.T); the package does not
// import testing.
package pelab
