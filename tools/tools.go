//go:build tools

// Package tools pins the developer tools and test peers (gobgpd, gobgp) and
// the benchmark's reference (wireguard-go, the module's root package) that
// Peregrine's Makefile and CI build.
// They live in their own module so that `go install TOOL@VERSION`, which the
// module proxy refuses here for some modules, is never needed: `make tools`
// builds them from this module's go.sum instead.
package tools

import (
	_ "github.com/osrg/gobgp/v3/cmd/gobgp"
	_ "github.com/osrg/gobgp/v3/cmd/gobgpd"
	_ "golang.zx2c4.com/wireguard"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
