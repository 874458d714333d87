package showcli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// output prints v as indented JSON, or calls table.
func output(w io.Writer, asJSON bool, v any, table func()) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	table()
	return nil
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// printBGPSummary prints one line per neighbor, in the manner of `show bgp
// summary`: the prefix column shows received/accepted per family.
func printBGPSummary(w io.Writer, ns []localapi.Neighbor) {
	tw := newTable(w)
	fmt.Fprintln(tw, "Neighbor\tAS\tState\tUp/Down\tPrefixes (rcvd/accepted/sent)\tDescription")
	for _, n := range ns {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", n.Address, n.ASN, n.State, upDown(n), familyCounts(n.Families), n.Description)
	}
	tw.Flush()
	for _, n := range ns {
		printReason(w, n)
	}
}

// familyCounts is the prefix column of a summary: received/accepted/sent
// per family.
func familyCounts(fs []localapi.Family) string {
	var fams []string
	for _, f := range fs {
		fams = append(fams, fmt.Sprintf("%s %d/%d/%d", f.Name, f.Received, f.Accepted, f.Sent))
	}
	return strings.Join(fams, ", ")
}

// upDown is a summary's Up/Down column.
func upDown(n localapi.Neighbor) string {
	if n.Uptime > 0 {
		return formatUptime(n.Uptime)
	}
	return "never"
}

// printReason prints, after a summary's table, what is wrong with n's
// session: a reason is a sentence, too wide for a column.
func printReason(w io.Writer, n localapi.Neighbor) {
	if n.Reason != "" {
		fmt.Fprintf(w, "%s %s: %s\n", n.Address, n.State, n.Reason)
	}
}

func formatUptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	s := int(d.Seconds()) % 60
	if h >= 24 {
		return fmt.Sprintf("%dd%02dh%02dm", h/24, h%24, m)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

func printVRFs(w io.Writer, vrfs []localapi.VRF) {
	tw := newTable(w)
	fmt.Fprintln(tw, "VRF\tRD\tImport RTs\tExport RTs\tInterfaces\tLabels\tImported\tRemote PEs")
	for _, v := range vrfs {
		var pes []string
		for _, pe := range v.RemotePEs {
			pes = append(pes, pe.Address.String()+"("+pe.Protection+")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", v.Name, v.RD, list(v.ImportTargets), list(v.ExportTargets), list(v.Interfaces), v.LabelMode, v.Imported, list(pes))
	}
	tw.Flush()
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func printRoutes(w io.Writer, rt localapi.VRFRoutes) {
	fmt.Fprintf(w, "VRF %s: %d routes\n", rt.VRF, len(rt.Routes))
	tw := newTable(w)
	fmt.Fprintln(tw, "Prefix\tVia\tLabel\tRD\tOrigin\tProtection")
	for _, r := range rt.Routes {
		via, origin := r.NextHop.String(), "bgp"
		switch {
		case r.Local && r.NextHop.IsValid():
			origin = "ce" // learned from the CE at NextHop
		case r.Local:
			via, origin = "local", "local"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Prefix, via, r.Label, r.RD, origin, cmp.Or(r.Protection, "-"))
	}
	tw.Flush()
}
