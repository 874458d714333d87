package showcli

import (
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// showMore handles the show commands beyond bgp summary, vrf and route:
// the VPN RIB, the LFIB, the SAs, the interfaces and the dataplane's own
// counters. ok is false for a command it does not know.
func showMore(c *Client, words []string, asJSON bool, w io.Writer) (ok bool, err error) {
	switch {
	case len(words) >= 2 && words[0] == "bgp" && (words[1] == "vpnv4" || words[1] == "vpnv6"):
		path := "/v1/bgp/" + words[1]
		switch {
		case len(words) == 4 && words[2] == "vrf":
			path += "?vrf=" + url.QueryEscape(words[3])
		case len(words) != 2:
			return false, nil
		}
		var ps []localapi.VPNPath
		if err := c.get(path, &ps); err != nil {
			return true, err
		}
		return true, output(w, asJSON, ps, func() { printVPNPaths(w, ps) })
	}
	switch strings.Join(words, " ") {
	case "mpls table":
		var ls []localapi.LabelEntry
		if err := c.get("/v1/mpls", &ls); err != nil {
			return true, err
		}
		return true, output(w, asJSON, ls, func() { printLabels(w, ls) })
	case "ipsec sa":
		var sas []localapi.SA
		if err := c.get("/v1/ipsec/sa", &sas); err != nil {
			return true, err
		}
		return true, output(w, asJSON, sas, func() { printSAs(w, sas) })
	case "ipsec attachments":
		var as []localapi.Attachment
		if err := c.get("/v1/ipsec/attachments", &as); err != nil {
			return true, err
		}
		return true, output(w, asJSON, as, func() { printAttachments(w, as) })
	case "interfaces":
		var ifs []localapi.Interface
		if err := c.get("/v1/interfaces", &ifs); err != nil {
			return true, err
		}
		return true, output(w, asJSON, ifs, func() { printInterfaces(w, ifs) })
	case "dataplane":
		var d localapi.Dataplane
		if err := c.get("/v1/dataplane", &d); err != nil {
			return true, err
		}
		return true, output(w, asJSON, d, func() { printDataplane(w, d) })
	}
	return false, nil
}

// printVPNPaths prints the VPN RIB grouped by RD, best paths marked with
// '>' and local ones with 'l', in the manner of `show bgp ipv4 vpn`.
func printVPNPaths(w io.Writer, ps []localapi.VPNPath) {
	fmt.Fprintln(w, "Status codes: > best, l local")
	tw := newTable(w)
	fmt.Fprintln(tw, "\tRD\tNetwork\tNext Hop\tLabel\tRoute targets\tFrom")
	for _, p := range ps {
		code := ""
		if p.Best {
			code += ">"
		}
		if p.Local {
			code += "l"
		}
		nh, from := "self", "local"
		if p.NextHop.IsValid() && !p.Local {
			nh = p.NextHop.String()
		}
		if p.Neighbor.IsValid() {
			from = p.Neighbor.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", code, p.RD, p.Prefix, nh, p.Label, list(p.RTs), from)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d paths\n", len(ps))
}

func printLabels(w io.Writer, ls []localapi.LabelEntry) {
	tw := newTable(w)
	fmt.Fprintln(tw, "Local label\tAction\tVRF")
	for _, l := range ls {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", l.Label, l.Action, l.VRF)
	}
	tw.Flush()
}

// printSAs prints one line per SA; keys are never in the document.
func printSAs(w io.Writer, sas []localapi.SA) {
	tw := newTable(w)
	fmt.Fprintln(tw, "Peer\tDir\tSPI\tCipher\tESN\tReplay\tPackets\tBytes\tDrops")
	for _, s := range sas {
		replay := "off"
		switch {
		case s.Direction == "out":
			replay = "-" // a receiver's check
		case s.AntiReplay:
			replay = fmt.Sprint(s.ReplayWindow)
		}
		cipher := s.Cipher
		if s.Protocol == "ah" {
			cipher = "ah " + s.Cipher + " (integrity only)"
		}
		fmt.Fprintf(tw, "%s\t%s\t0x%08x\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Remote, s.Direction, s.SPI, cipher, yesNo(s.ESN), replay, s.Packets, s.Bytes, drops(s.Drops))
	}
	tw.Flush()
}

// printAttachments prints one line per IPsec attachment: who is connected
// into which VRF, with which selectors and SAs, and its counters. A pool
// prints its ranges as its site selectors and a line per connected host
// (named pool/leased address) with the host's identity as its client.
func printAttachments(w io.Writer, as []localapi.Attachment) {
	tw := newTable(w)
	fmt.Fprintln(tw, "Name\tVRF\tState\tGateway\tSite TS\tLocal TS\tOut SPI\tIn SPI\tIn pkts\tOut pkts\tDrops\tClient")
	for _, a := range as {
		gw, out, in := "-", "-", "-"
		if a.Gateway.IsValid() {
			gw = a.Gateway.String()
		} else if a.Configured.IsValid() {
			gw = "(" + a.Configured.String() + ")"
		}
		if a.OutSPI != 0 {
			out = fmt.Sprintf("0x%08x", a.OutSPI)
		}
		if a.InSPI != 0 {
			in = fmt.Sprintf("0x%08x", a.InSPI)
		}
		site, client := prefixList(a.SiteTS), "-"
		if a.Pool != "" {
			site = a.Pool
			client = fmt.Sprintf("%d leased", a.Leases)
		}
		if a.Client != "" {
			client = a.Client
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", a.Name, a.VRF, a.State, gw,
			site, prefixList(a.LocalTS), out, in, a.InPackets, a.OutPackets, drops(a.Drops), client)
	}
	tw.Flush()
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func printInterfaces(w io.Writer, ifs []localapi.Interface) {
	tw := newTable(w)
	fmt.Fprintln(tw, "Interface\tVRF\tKind\tState\tMTU\tAddresses\tOut pkts\tIn pkts\tDrops")
	for _, i := range ifs {
		var addrs []string
		for _, a := range i.Addresses {
			addrs = append(addrs, a.String())
		}
		outp, inp, dr := "-", "-", "-"
		if c := i.Counters; c != nil {
			outp, inp = fmt.Sprint(c.OutPackets), fmt.Sprint(c.InPackets)
			all := map[string]uint64{}
			for k, v := range c.OutDrops {
				all["out "+k] += v
			}
			for k, v := range c.InDrops {
				all["in "+k] += v
			}
			dr = drops(all)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", i.Name, i.VRF, i.Kind, i.State, i.MTU, list(addrs), outp, inp, dr)
	}
	tw.Flush()
}

// drops prints reason=count pairs in a stable order, or "-".
func drops(m map[string]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return list(parts)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
