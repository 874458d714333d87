package showcli

import (
	"fmt"
	"io"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// printDataplane prints `show dataplane`: what arrived from the core and
// was dropped before its label named a VRF, so in no VRF's counters (a
// core host spraying bad labels or unknown SPIs), and the port 4500
// datagrams that are not ESP.
func printDataplane(w io.Writer, d localapi.Dataplane) {
	c := d.Core
	if c == nil {
		fmt.Fprintln(w, "Core: not counted by peregrined; the kernel receives (ip -s link, ip -s xfrm)")
		return
	}
	fmt.Fprintln(w, "Core, before a label names a VRF:")
	tw := newTable(w)
	fmt.Fprintf(tw, "  Drops\t%s\n", drops(c.Drops))
	fmt.Fprintf(tw, "  Of open-failed\tunknown-spi=%d,truncated=%d\n", c.UnknownSPI, c.Truncated)
	fmt.Fprintf(tw, "  UDP 4500 not ESP\tike=%d,keepalives=%d\n", c.IKE, c.Keepalives)
	if c.PlainMPLS > 0 {
		fmt.Fprintf(tw, "  Plain MPLS in\t%d\n", c.PlainMPLS)
	}
	tw.Flush()
}
