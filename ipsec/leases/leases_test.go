package leases

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func mustPool(t *testing.T, first, last string) *Pool {
	t.Helper()
	p, err := New(netip.MustParseAddr(first), netip.MustParseAddr(last))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLeaseExhaustReleaseReuse(t *testing.T) {
	p := mustPool(t, "10.77.0.1", "10.77.0.3")
	got := map[netip.Addr]string{}
	for _, o := range []string{"a", "b", "c"} {
		a, err := p.Lease(o)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := got[a]; dup {
			t.Fatalf("%v leased to %s and %s", a, other, o)
		}
		got[a] = o
	}
	if a, err := p.Lease("a"); err != nil || got[a] != "a" {
		t.Fatalf("a again: %v %v, want its own address", a, err)
	}
	if _, err := p.Lease("d"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("fourth owner: %v, want ErrExhausted", err)
	}
	b, ok := p.Release("b")
	if !ok || got[b] != "b" {
		t.Fatalf("release b: %v %v", b, ok)
	}
	if _, ok := p.Release("b"); ok {
		t.Fatal("b released twice")
	}
	if a, err := p.Lease("d"); err != nil || a != b {
		t.Fatalf("d: %v %v, want b's %v (the only free one)", a, err, b)
	}
	if ls := p.Leases(); len(ls) != 3 || ls[0].Addr != netip.MustParseAddr("10.77.0.1") {
		t.Fatalf("leases %v", ls)
	}
}

// TestReleasedNotReusedAtOnce: a freed address goes to the back of the
// line while others are free.
func TestReleasedNotReusedAtOnce(t *testing.T) {
	p := mustPool(t, "10.77.0.1", "10.77.0.10")
	a, _ := p.Lease("a")
	p.Release("a")
	b, _ := p.Lease("b")
	if a == b {
		t.Fatalf("b got a's address %v at once", a)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, r := range [][2]string{{"10.0.0.9", "10.0.0.1"}, {"10.0.0.1", "fd00::1"}} {
		if _, err := New(netip.MustParseAddr(r[0]), netip.MustParseAddr(r[1])); err == nil {
			t.Errorf("%v: no error", r)
		}
	}
}

func TestSpan(t *testing.T) {
	for _, c := range []struct {
		a, z string
		n    uint64
	}{
		{"10.0.0.1", "10.0.0.1", 1}, {"10.0.0.0", "10.0.1.255", 512},
		{"fd00::", "fd00::ffff:ffff:ffff:ffff", ^uint64(0)}, {"fd00::", "fd00:0:0:1::", ^uint64(0)},
		{"fd00::10", "fd00::20", 17},
	} {
		if got := span(netip.MustParseAddr(c.a), netip.MustParseAddr(c.z)); got != c.n {
			t.Errorf("span %s-%s = %d, want %d", c.a, c.z, got, c.n)
		}
	}
	p := mustPool(t, "fd00::", "fd00::ffff:ffff:ffff:ffff")
	if a, err := p.Lease("x"); err != nil || a != netip.MustParseAddr("fd00::") {
		t.Fatalf("v6: %v %v", a, err)
	}
}

// TestConcurrentNoDoubleLease: many owners at once never share an
// address, and the pool ends exactly full.
func TestConcurrentNoDoubleLease(t *testing.T) {
	p := mustPool(t, "10.77.0.0", "10.77.0.255")
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	fails := 0
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := p.Lease(fmt.Sprint(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails++
				return
			}
			if seen[a] {
				t.Errorf("%v leased twice", a)
			}
			seen[a] = true
		}()
	}
	wg.Wait()
	if len(seen) != 256 || fails != 44 {
		t.Fatalf("%d leased, %d refused; want 256 and 44", len(seen), fails)
	}
}
