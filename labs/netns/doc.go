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
// A Lab is built of primitives that are exported for labs that outlive the
// program that made them: AddNamespace, LinkNamespaces and RemoveNamespace
// take namespace names as `ip netns` knows them, and StartProcess supervises
// a program on the host or in a named namespace, tied to this process or
// Detached. labs/clab (the `peregrine-lab deploy` runner) names its
// namespaces clab-LAB-NODE and finds them again by name; bgpbench runs its
// daemons on the host with StartProcess.
//
// The core takes a *slog.Logger and never imports testing, so the lab tools
// can use it; NewLab and RequireRoot adapt it to tests.
//
// Everything here shells out to iproute2 (`ip netns add`, `ip link add ...
// type veth`, `ip netns exec`): a harness is easier to debug when every step
// is a command one can paste into a shell.
package netns
