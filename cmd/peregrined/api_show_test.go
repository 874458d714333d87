package main

import (
	"testing"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
)

// TestInterfaceDocsByBackend: which devices /v1/interfaces lists follows
// the backend's fib.Counterer alone: VRF TUNs with their counters where
// Stats has VRFs (userspace), VRF devices and the gateway's TUNs where it
// has none (kernel), only CE interfaces where the backend counts nothing.
// The devices do not exist here; they show as missing.
func TestInterfaceDocsByBackend(t *testing.T) {
	vrfs := []bgp.VRF{{Name: "red", Interfaces: []string{"pgtest-ce1"}}}
	userspaceLike := statsBackend{Backend: fake.New(), stats: fib.Stats{
		VRFs: map[string]fib.VRFCounters{"red": {OutPackets: 7}}}}
	kernelLike := statsBackend{Backend: fake.New(), stats: fib.Stats{
		Devices: map[string]fib.VRFCounters{"pgesp-in": {InPackets: 5}}}}
	type dev struct {
		name, kind string
		packets    uint64
	}
	for _, c := range []struct {
		name string
		b    fib.Backend
		want []dev
	}{
		{"userspace", userspaceLike, []dev{{"pgtest-ce1", "ce", 0}, {fib.TUNName("red"), "tun", 7}}},
		{"kernel", kernelLike, []dev{{"pgtest-ce1", "ce", 0}, {fib.VRFDevice("red"), "vrf", 0}, {"pgesp-in", "esp", 5}}},
		{"no counters", fake.New(), []dev{{"pgtest-ce1", "ce", 0}}},
	} {
		got := newDataplane(nil, c.b).interfaceDocs(vrfs)
		var have []dev
		for _, ifc := range got {
			d := dev{name: ifc.Name, kind: ifc.Kind}
			if ifc.Counters != nil {
				d.packets = ifc.Counters.OutPackets + ifc.Counters.InPackets
			}
			have = append(have, d)
		}
		if len(have) != len(c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, have, c.want)
			continue
		}
		for i := range have {
			if have[i] != c.want[i] {
				t.Errorf("%s: %+v, want %+v", c.name, have, c.want)
				break
			}
		}
	}
}
