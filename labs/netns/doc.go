// Package netns builds lab topologies out of Linux network namespaces and veth
// pairs, and supervises the processes run inside them.
//
// A Lab owns everything it creates: namespaces, the veth pairs between them
// (created directly inside the namespaces, so none ever appears in the host's
// namespace), processes and a directory for configs and logs. Close removes
// all of it. A lab that cannot run Close (its process was killed) is swept by
// the next New: every lab holds an flock on a file named for its ID while it
// lives, and namespaces whose lab's lock is free are stale.
//
// The core takes a *slog.Logger and never imports testing, so the
// `peregrine-lab deploy` runner can use it; NewLab and RequireRoot adapt it to
// tests.
//
// Everything here shells out to iproute2 (`ip netns add`, `ip link add ...
// type veth`, `ip netns exec`): a harness is easier to debug when every step
// is a command one can paste into a shell.
package netns
