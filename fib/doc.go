// Package fib will hold the desired forwarding state, the one reconciler that
// owns it, and the backends (kernel netlink, userspace fast path, and a fake
// that records ip-style lines). Nothing is implemented yet; see the project's
// issue "The forwarding plane".
package fib
