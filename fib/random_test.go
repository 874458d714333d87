package fib_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestRandomTransitions is Tailscale's router test turned on the fib: it
// makes random States, applies them through the fake in random order,
// sometimes making an Apply fail halfway, and keeps its own model of the
// OS built only from the commands the fake ran (never from Lines). After
// every successful Apply of S the model must equal Lines(S): whatever came
// before, every transition is clean. It also checks each command makes
// sense where it runs (no duplicate add, no delete of something absent,
// no route into a TUN device that does not exist) and that a transition
// after a clean Apply runs exactly the lines that differ.
func TestRandomTransitions(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	states := make([]*fib.State, 24)
	for i := range states {
		states[i] = randomState(rng)
	}
	states[0] = &fib.State{} // to and from nothing

	fb := fake.New()
	os := map[string]bool{}
	replayed := 0
	var prev *fib.State // last State applied cleanly, nil after a failure
	errHalfway := errors.New("halfway")
	for step := range 400 {
		s := states[rng.IntN(len(states))]
		fail := rng.IntN(8) == 0
		if fail {
			fb.FailAfter(rng.IntN(10), errHalfway)
		}
		err := fb.Apply(context.Background(), s)
		diffs := fb.Diffs()
		for _, cmd := range diffs[replayed:][0] {
			if e := runOn(os, cmd); e != "" {
				t.Fatalf("step %d: %s", step, e)
			}
		}
		replayed = len(diffs)
		if fail && err != nil {
			prev = nil
			continue
		}
		fb.FailAfter(-1, nil) // a failure armed past the end of a short diff
		if err != nil {
			t.Fatalf("step %d: Apply: %v", step, err)
		}
		want := fake.Lines(s)
		if d := diffLines(want, sorted(os, want)); d != "" {
			t.Fatalf("step %d: OS differs from Lines(State) (-want +got):\n%s", step, d)
		}
		if prev != nil {
			if got, want := len(diffs[len(diffs)-1]), symDiff(fake.Lines(prev), want); got != want {
				t.Fatalf("step %d: transition ran %d commands, %d lines differ", step, got, want)
			}
		}
		prev = s
	}
}

// runOn applies one recorded command to the model OS, or says why it
// could not run there.
func runOn(os map[string]bool, cmd string) string {
	add, del := strings.Index(cmd, " add "), strings.Index(cmd, " del ")
	if del >= 0 && (add < 0 || del < add) {
		line := strings.Replace(cmd, " del ", " add ", 1)
		if !os[line] {
			return "deletes what is not there: " + cmd
		}
		delete(os, line)
		if dev, ok := strings.CutPrefix(line, "ip tuntap add dev "); ok {
			dev = strings.TrimSuffix(dev, " mode tun")
			for l := range os {
				if strings.Contains(l, " dev "+dev+" ") {
					return fmt.Sprintf("deletes %s while %q uses it", dev, l)
				}
			}
		}
		return ""
	}
	if os[cmd] {
		return "adds what is already there: " + cmd
	}
	if i := strings.Index(cmd, " dev pg-"); i >= 0 && strings.Contains(cmd, " route add ") {
		dev := strings.Fields(cmd[i:])[1]
		if !os["ip tuntap add dev "+dev+" mode tun"] {
			return "routes into missing device: " + cmd
		}
	}
	os[cmd] = true
	return ""
}

// sorted lists os's lines in want's order, followed by any extras.
func sorted(os map[string]bool, want []string) []string {
	var out []string
	for _, l := range want {
		if os[l] {
			out = append(out, l)
		}
	}
	for l := range os {
		if !contains(want, l) {
			out = append(out, l)
		}
	}
	return out
}

func contains(ls []string, s string) bool {
	for _, l := range ls {
		if l == s {
			return true
		}
	}
	return false
}

func symDiff(a, b []string) int {
	n := 0
	for _, l := range a {
		if !contains(b, l) {
			n++
		}
	}
	for _, l := range b {
		if !contains(a, l) {
			n++
		}
	}
	return n
}

// randomState draws a State from small pools, so that states share
// VRFs, prefixes, labels and tunnels and transitions are partial.
func randomState(rng *rand.Rand) *fib.State {
	pick := func(n int) bool { return rng.IntN(n) == 0 }
	one := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	s := &fib.State{
		VRFs:    map[string]*fib.VRF{},
		Labels:  map[mpls.Label]fib.LabelAction{},
		Tunnels: map[netip.Addr]*fib.Tunnel{},
	}
	if !pick(3) {
		s.LocalAddress = addr(one("10.0.0.1", "10.0.0.11"))
	}
	var names []string
	for i, name := range []string{"red", "blue", "green", "customer-number"} {
		if pick(3) {
			continue
		}
		names = append(names, name)
		v := &fib.VRF{Name: name, Table: uint32(1000 + i + 10*rng.IntN(2)), Routes: map[netip.Prefix]fib.Route{}}
		for _, ifn := range []string{"ce1", "ce2", "ce3"} {
			if pick(2) {
				v.Interfaces = append(v.Interfaces, ifn)
			}
		}
		for _, p := range []string{"10.1.0.0/24", "10.1.255.0/24", "10.2.0.0/24", "0.0.0.0/0", "2001:db8:1::/64", "2001:db8:2::/64"} {
			if pick(2) {
				continue
			}
			r := fib.Route{Prefix: pfx(p)}
			switch rng.IntN(4) {
			case 0:
				r.Interface = one("ce1", "ce2")
			case 1:
				r.Interface, r.NextHop = one("ce1", "ce2"), addr(one("10.1.255.2", "fe80::2"))
			case 2:
				r.NextHop = addr("10.1.255.3")
			default:
				r.Remote, r.Labels = addr(one("10.0.0.2", "10.0.0.3")), labels(uint32(100+rng.IntN(3)))
				if pick(2) {
					r.RD = rd(one("65000:1", "65000:2"))
				}
			}
			v.Routes[r.Prefix] = r
		}
		s.VRFs[name] = v
	}
	for l := range 6 {
		if len(names) == 0 || pick(2) {
			continue
		}
		a := fib.LabelAction{Kind: fib.PopLookup, VRF: names[rng.IntN(len(names))]}
		if pick(2) {
			a.Kind, a.Interface = fib.PopForward, one("ce1", "ce2", "")
			if pick(2) {
				a.NextHop = addr(one("10.1.255.2", "2001:db8::2"))
			}
		}
		s.Labels[mpls.Label(1000+l)] = a
	}
	for _, remote := range []string{"10.0.0.2", "10.0.0.3", "2001:db8::3"} {
		if pick(2) {
			continue
		}
		t := &fib.Tunnel{Remote: addr(remote), UDP: pick(2)}
		if !pick(3) {
			t.Out = &fib.SAParams{SPI: uint32(0x1000 + rng.IntN(3)), Cipher: esp.AES128GCM16, Key: testKey}
		}
		if !pick(3) {
			t.In = &fib.SAParams{SPI: uint32(0x2000 + rng.IntN(3)), Cipher: esp.AES256GCM16, ReplayWindow: 64}
		}
		s.Tunnels[t.Remote] = t
	}
	return s
}
