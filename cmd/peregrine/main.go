// Command peregrine is the operator's CLI for peregrined.
//
//	peregrine show bgp summary          BGP sessions and prefix counts
//	peregrine show vrf                  VRFs with RD, route targets, route counts
//	peregrine show route vrf NAME       a VRF's routes: local and imported
//	peregrine show bgp vpnv4|vpnv6 [vrf NAME]  the VPN RIB (a VRF's exports and imports)
//	peregrine show bgp vrf NAME summary        a VRF's CE sessions with prefix counts and flaps
//	peregrine show bgp vrf NAME [ipv4|ipv6]    paths learned from its CEs and advertised to them
//	peregrine show mpls table           local labels and what they do
//	peregrine show ipsec sa             SAs with counters (never keys)
//	peregrine show ipsec attachments    sites' gateways: VRF, state, selectors, SAs, counters
//	peregrine show interfaces           CE interfaces and VRF TUNs with fast-path counters
//	peregrine show dataplane            core drops before a label names a VRF, by reason
//	peregrine walk                      follow one packet through the engines
//
// Every show command takes --json. peregrine talks to peregrined over
// HTTP/JSON on a unix socket (-s, default /run/peregrine/peregrined.sock);
// see package localapi for the documents, and package showcli for the
// tables. The lab runner is a command of its own (cmd/peregrine-lab), so
// that the binary installed on a router carries no lab code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/cmd/internal/showcli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: peregrine [-s SOCKET] [--json] COMMAND
commands:
  show bgp summary
  show bgp vpnv4|vpnv6 [vrf NAME]
  show bgp vrf NAME summary
  show bgp vrf NAME [ipv4|ipv6]
  show vrf
  show route vrf NAME
  show mpls table
  show ipsec sa
  show ipsec attachments
  show interfaces
  show dataplane
  walk [-pcap FILE]
`

// errUsage means the command line was wrong; run prints the usage.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("peregrine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	sock := fs.String("s", localapi.DefaultSocket, "peregrined's control `socket`")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	words := fs.Args()
	// Accept --json after the command too, as operators type it.
	for i := 0; i < len(words); i++ {
		if words[i] == "--json" || words[i] == "-json" {
			*asJSON = true
			words = append(words[:i], words[i+1:]...)
			i--
		}
	}
	var err error
	switch {
	case len(words) >= 1 && words[0] == "walk":
		err = walk(words[1:], stdout)
	case len(words) >= 1 && words[0] == "show":
		err = showcli.Show(showcli.NewClient(*sock), words[1:], *asJSON, stdout)
	default:
		err = errUsage
	}
	switch {
	case errors.Is(err, errUsage), errors.Is(err, showcli.ErrUsage):
		fmt.Fprint(stderr, usage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "peregrine: %v\n", err)
		return 1
	}
	return 0
}
