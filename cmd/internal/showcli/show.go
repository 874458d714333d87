// Package showcli is what `peregrine show` prints: it reads peregrined's
// local API over its unix socket and renders tables or JSON. The operator's
// CLI (cmd/peregrine) and the lab runner's checker (cmd/peregrine-lab)
// share it, so that a lab shows exactly what an operator sees and the
// operator's binary links no lab code.
package showcli

import (
	"errors"
	"io"
	"strings"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// ErrUsage means the show words name no command; the caller prints its
// usage.
var ErrUsage = errors.New("usage")

// Show runs `peregrine show WORDS [--json]` against c and writes the table,
// or with asJSON the local API's document, to w.
func Show(c *Client, words []string, asJSON bool, w io.Writer) error {
	if ok, err := showMore(c, words, asJSON, w); ok {
		return err
	}
	if ok, err := showCE(c, words, asJSON, w); ok {
		return err
	}
	switch strings.Join(words, " ") {
	case "bgp summary":
		var ns []localapi.Neighbor
		if err := c.get("/v1/bgp/neighbors", &ns); err != nil {
			return err
		}
		return output(w, asJSON, ns, func() { printBGPSummary(w, ns) })
	case "vrf":
		var vrfs []localapi.VRF
		if err := c.get("/v1/vrfs", &vrfs); err != nil {
			return err
		}
		return output(w, asJSON, vrfs, func() { printVRFs(w, vrfs) })
	}
	if len(words) == 3 && words[0] == "route" && words[1] == "vrf" {
		var rt localapi.VRFRoutes
		if err := c.get("/v1/vrfs/"+words[2]+"/routes", &rt); err != nil {
			return err
		}
		return output(w, asJSON, rt, func() { printRoutes(w, rt) })
	}
	return ErrUsage
}
