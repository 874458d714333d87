package kernel

import (
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// TestStatsWithoutGateway: a kernel backend without an ESP gateway is a
// fib.Counterer that counts nothing, and says its VRFs are the kernel's
// (VRFs nil), which is how the local API knows to list VRF devices.
func TestStatsWithoutGateway(t *testing.T) {
	var c fib.Counterer = &Backend{}
	if s := c.Stats(); s.VRFs != nil || s.Devices != nil || len(s.SAs) != 0 {
		t.Errorf("Stats = %+v, want none and VRFs nil", s)
	}
}
