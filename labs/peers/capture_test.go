package peers_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/peregrine-net/peregrine/labs/peers"
)

// capture rewrites testdata/ with the peers' raw output, taken once
// TestInterop's routes have converged; the parser tests read those files.
// Run as root: go test ./labs/peers -run TestInterop -capture
var capture = flag.Bool("capture", false, "write the real peers' output to testdata/")

func captureOutputs(t *testing.T, ctx context.Context, top topology) {
	t.Helper()
	files := map[string]func() ([]byte, error){
		"frr-ipv4-vpn-table.json": func() ([]byte, error) { return top.frr.Vtysh(ctx, "show bgp ipv4 vpn json") },
		"frr-ipv4-vpn-prefixes.json": func() ([]byte, error) {
			return top.frr.Vtysh(ctx, rdPrefixCommands("ipv4", frrV4, gobV4, gobOdd, birdV4)...)
		},
		"frr-ipv6-vpn-prefixes.json": func() ([]byte, error) {
			return top.frr.Vtysh(ctx, rdPrefixCommands("ipv6", frrV6, gobV6, birdV6)...)
		},
		"frr-neighbors.json":   func() ([]byte, error) { return top.frr.Vtysh(ctx, "show bgp neighbors json") },
		"gobgp-rib-vpnv4.json": func() ([]byte, error) { return top.gobgp.CLI(ctx, "-j", "global", "rib", "-a", "vpnv4") },
		"gobgp-rib-vpnv6.json": func() ([]byte, error) { return top.gobgp.CLI(ctx, "-j", "global", "rib", "-a", "vpnv6") },
		"gobgp-neighbors.json": func() ([]byte, error) { return top.gobgp.CLI(ctx, "-j", "neighbor") },
		"bird-vpntab4.txt":     func() ([]byte, error) { return top.bird.Birdc(ctx, "show", "route", "table", "vpntab4", "all") },
		"bird-vpntab6.txt":     func() ([]byte, error) { return top.bird.Birdc(ctx, "show", "route", "table", "vpntab6", "all") },
		"bird-protocols.txt":   func() ([]byte, error) { return top.bird.Birdc(ctx, "show", "protocols", "all") },
	}
	for name, get := range files {
		out, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("captured %d files into testdata/", len(files))
}

func rdPrefixCommands(afi string, routes ...peers.VPNRoute) []string {
	var cmds []string
	for _, r := range routes {
		cmds = append(cmds, "show bgp "+afi+" vpn rd "+r.RD+" "+r.Prefix.String()+" json")
	}
	return cmds
}
