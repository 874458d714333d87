package main

import (
	"testing"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/kernel"
)

// TestBGPConfigBindsCEsByBackend: with the kernel backend the speaker
// binds a VRF's CE sessions to the VRF's device, the one the backend
// makes; with any other (userspace, none) it gets no device and binds
// each session to the CE's interface.
func TestBGPConfigBindsCEsByBackend(t *testing.T) {
	cfg, err := config.Parse([]byte("router: {id: 192.0.2.1, asn: 65000}\nvrfs: [{name: red, rd: '65000:1', interfaces: [ce1], neighbors: [{address: 10.1.0.2, asn: 65101}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var kb *kernel.Backend // the type is what counts
	for _, tc := range []struct {
		name string
		b    fib.Backend
		want string
	}{{"kernel", kb, fib.VRFDevice("red")}, {"none", nil, ""}} {
		if got := bgpConfig(cfg, tc.b).VRFs[0].Device; got != tc.want {
			t.Errorf("%s backend: red's device %q, want %q", tc.name, got, tc.want)
		}
	}
}
