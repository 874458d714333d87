package showcli

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// showCE handles `show bgp vrf NAME summary` (the VRF's CE sessions) and
// `show bgp vrf NAME [ipv4|ipv6]` (the paths they carry). ok is false
// for other words.
func showCE(c *Client, words []string, asJSON bool, w io.Writer) (ok bool, err error) {
	if len(words) < 3 || len(words) > 4 || words[0] != "bgp" || words[1] != "vrf" {
		return false, nil
	}
	base := "/v1/bgp/vrfs/" + url.PathEscape(words[2])
	var family string
	if len(words) == 4 {
		switch words[3] {
		case "summary":
			var ns []localapi.CENeighbor
			if err := c.get(base+"/neighbors", &ns); err != nil {
				return true, err
			}
			return true, output(w, asJSON, ns, func() { printCESummary(w, words[2], ns) })
		case "ipv4", "ipv6":
			family = words[3]
		default:
			return false, nil
		}
	}
	path := base + "/paths"
	if family != "" {
		path += "?family=" + family
	}
	var rt localapi.CERoutes
	if err := c.get(path, &rt); err != nil {
		return true, err
	}
	return true, output(w, asJSON, rt, func() { printCERoutes(w, rt) })
}

// printCESummary prints a VRF's CE sessions as printBGPSummary prints
// the global neighbors, with each session's flaps.
func printCESummary(w io.Writer, vrf string, ns []localapi.CENeighbor) {
	fmt.Fprintf(w, "VRF %s: %d CE sessions\n", vrf, len(ns))
	tw := newTable(w)
	fmt.Fprintln(tw, "Neighbor\tAS\tState\tUp/Down\tFlaps\tPrefixes (rcvd/accepted/sent)\tDescription")
	for _, n := range ns {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\n", n.Address, n.ASN, n.State, upDown(n.Neighbor), n.Flaps, familyCounts(n.Families), n.Description)
	}
	tw.Flush()
	for _, n := range ns {
		printReason(w, n.Neighbor)
	}
}

// printCERoutes prints the paths a VRF learned from its CEs, best marked
// '>', then those advertised to each CE, in the manner of `show bgp vrf
// NAME ipv4 unicast`.
func printCERoutes(w io.Writer, rt localapi.CERoutes) {
	fam := "ipv4 and ipv6"
	if rt.Family != "" {
		fam = rt.Family
	}
	fmt.Fprintf(w, "VRF %s, %s unicast\n", rt.VRF, fam)
	fmt.Fprintln(w, "Learned from CEs (> best):")
	tw := newTable(w)
	fmt.Fprintln(tw, "\tNetwork\tNext Hop\tMetric\tPath\tCommunities\tFrom")
	for _, p := range rt.Learned {
		code := ""
		if p.Best {
			code = ">"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", code, p.Prefix, addrOrDash(p), med(p.MED), asPath(p), list(p.Communities), p.Neighbor)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d paths\n\nAdvertised to CEs:\n", len(rt.Learned))
	tw = newTable(w)
	fmt.Fprintln(tw, "To\tNetwork\tNext Hop\tMetric\tPath\tCommunities")
	for _, p := range rt.Advertised {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Neighbor, p.Prefix, addrOrDash(p), med(p.MED), asPath(p), list(p.Communities))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d paths\n", len(rt.Advertised))
}

func addrOrDash(p localapi.CEPath) string {
	if !p.NextHop.IsValid() {
		return "-"
	}
	return p.NextHop.String()
}

func med(m *uint32) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprint(*m)
}

// asPath is the AS path with the origin code after it, as routers print
// it: "65101 65102 i".
func asPath(p localapi.CEPath) string {
	return strings.TrimSpace(p.ASPath + " " + p.Origin)
}
