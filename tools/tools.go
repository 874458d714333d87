//go:build tools

// Package tools pins the developer tools Peregrine's Makefile and CI build.
// They live in their own module so that `go install TOOL@VERSION`, which the
// module proxy refuses here for some modules, is never needed: `make tools`
// builds them from this module's go.sum instead.
package tools

import (
	_ "honnef.co/go/tools/cmd/staticcheck"
)
