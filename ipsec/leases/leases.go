// Package leases hands out the addresses of a remote-access pool
// (config's vrfs[].ipsec-attachments[] kind: pool): one address per
// owner (an IKE SA), never the same address to two owners, back to the
// pool when the owner releases it.
//
// A Pool is safe for concurrent use. Released addresses are handed out
// again only after the rest of the pool has been, so a host that
// reconnects rarely gets the address another host just gave up (and
// whose packets may still be in flight).
package leases

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
)

// ErrExhausted is returned by Lease when every address is leased: the
// IKE responder refuses the host with INTERNAL_ADDRESS_FAILURE, and an
// operator widens the pool or waits for a host to leave.
var ErrExhausted = errors.New("leases: every address of the pool is leased")

// Pool leases the addresses First..Last, both included.
type Pool struct {
	first, last netip.Addr
	mu          struct {
		sync.Mutex
		byOwner map[string]netip.Addr
		byAddr  map[netip.Addr]string
		next    netip.Addr // where the search for a free address starts
	}
	size uint64 // addresses in the pool, saturated at MaxUint64
}

// New returns the pool of first..last, which must be of one family and
// in order.
func New(first, last netip.Addr) (*Pool, error) {
	if !first.IsValid() || !last.IsValid() || first.Is4() != last.Is4() || last.Less(first) || first.Zone() != "" || last.Zone() != "" {
		return nil, fmt.Errorf("leases: %v-%v is not a range of one family in order", first, last)
	}
	first, last = first.Unmap(), last.Unmap()
	p := &Pool{first: first, last: last, size: span(first, last)}
	p.mu.byOwner = map[string]netip.Addr{}
	p.mu.byAddr = map[netip.Addr]string{}
	p.mu.next = first
	return p, nil
}

// span is the number of addresses first..last, saturated.
func span(first, last netip.Addr) uint64 {
	a, z := first.As16(), last.As16()
	var hiA, hiZ, loA, loZ uint64
	for i := range 8 {
		hiA, hiZ = hiA<<8|uint64(a[i]), hiZ<<8|uint64(z[i])
		loA, loZ = loA<<8|uint64(a[8+i]), loZ<<8|uint64(z[8+i])
	}
	if hiZ != hiA {
		return ^uint64(0)
	}
	n := loZ - loA
	if n == ^uint64(0) {
		return n
	}
	return n + 1
}

// Lease gives owner an address: the one it holds already, else the next
// free one. It returns ErrExhausted when none is free.
func (p *Pool) Lease(owner string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.mu.byOwner[owner]; ok {
		return a, nil
	}
	if uint64(len(p.mu.byAddr)) >= p.size {
		return netip.Addr{}, ErrExhausted
	}
	a := p.mu.next
	for {
		if _, taken := p.mu.byAddr[a]; !taken {
			break
		}
		a = p.after(a)
	}
	p.mu.byOwner[owner], p.mu.byAddr[a] = a, owner
	p.mu.next = p.after(a)
	return a, nil
}

// after is the address after a, wrapping to first after last.
func (p *Pool) after(a netip.Addr) netip.Addr {
	if a == p.last {
		return p.first
	}
	return a.Next()
}

// Release gives owner's address back and reports whether it had one.
func (p *Pool) Release(owner string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.mu.byOwner[owner]
	if ok {
		delete(p.mu.byOwner, owner)
		delete(p.mu.byAddr, a)
	}
	return a, ok
}

// Contains reports whether a is one of the pool's addresses.
func (p *Pool) Contains(a netip.Addr) bool {
	a = a.Unmap()
	return a.Is4() == p.first.Is4() && p.first.Compare(a) <= 0 && a.Compare(p.last) <= 0
}

// Lease is one leased address and its owner.
type Lease struct {
	Owner string
	Addr  netip.Addr
}

// Leases are the current leases, by address.
func (p *Pool) Leases() []Lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Lease, 0, len(p.mu.byAddr))
	for _, a := range slices.SortedFunc(maps.Keys(p.mu.byAddr), netip.Addr.Compare) {
		out = append(out, Lease{Owner: p.mu.byAddr[a], Addr: a})
	}
	return out
}

func (p *Pool) String() string { return p.first.String() + "-" + p.last.String() }
