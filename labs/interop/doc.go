// Package interop holds Peregrine's end-to-end tests against real BGP
// speakers (FRR, BIRD, gobgpd) in network namespaces. It has no code of its
// own; `make interop-bgp` runs it, and `make test` includes it.
package interop
