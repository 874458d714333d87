package showcli

import (
	"bytes"
	"testing"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// TestPrintDataplaneUncounted: where peregrined counts nothing from the
// core (the kernel backend without an ESP gateway) the table says where
// the counts are rather than printing zeros.
func TestPrintDataplaneUncounted(t *testing.T) {
	var b bytes.Buffer
	printDataplane(&b, localapi.Dataplane{})
	const want = "Core: not counted by peregrined; the kernel receives (ip -s link, ip -s xfrm)\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	printDataplane(&b, localapi.Dataplane{Core: &localapi.CoreCounters{Drops: map[string]uint64{}}})
	const zero = "Core, before a label names a VRF:\n  Drops             -\n  Of open-failed    unknown-spi=0,truncated=0\n  UDP 4500 not ESP  ike=0,keepalives=0\n"
	if b.String() != zero {
		t.Errorf("got %q, want %q", b.String(), zero)
	}
}
