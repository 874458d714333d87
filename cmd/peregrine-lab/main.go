// Command peregrine-lab runs Peregrine's containerlab topologies in network
// namespaces on one Linux host, without Docker, and judges them. It is a
// command of its own so that the operator's CLI (cmd/peregrine), the binary
// installed on a router, carries no lab code.
//
//	peregrine-lab deploy|inspect|destroy -t FILE
//	                                    a containerlab topology in namespaces, no Docker
//	peregrine-lab demo -t FILE [-destroy]
//	                                    deploy, wait for BGP, ping CE to CE, show, verdict
//	peregrine-lab check [-docker CLI] -t FILE
//	                                    that verdict on a deployed lab (-docker: deployed by containerlab)
//
// It needs root and iproute2; it finds peregrined next to its own
// executable (make build puts both in bin/), else in $PATH.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: peregrine-lab COMMAND -t TOPOLOGY.clab.yml
commands:
  deploy|inspect|destroy -t TOPOLOGY.clab.yml [-peregrined BINARY]
  demo -t TOPOLOGY.clab.yml [-destroy] [-peregrined BINARY]
  check [-docker DOCKER-CLI] -t TOPOLOGY.clab.yml
`

// errUsage means the command line was wrong; run prints the usage.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	err := lab(args, stdout, stderr)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(stderr, usage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "peregrine-lab: %v\n", err)
		return 1
	}
	return 0
}
