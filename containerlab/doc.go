// Package containerlab holds containerlab (https://containerlab.dev) labs
// that run Peregrine in containers, and the tests that keep them honest.
// It has no Go code of its own; the package exists for its tests.
//
// Each lab is a directory with a topology file, NAME.clab.yml, and one
// directory per node holding the files bound into that node's container:
//
//	l3vpn-ipsec/  two PEs, an FRR route reflector (VPNv4, VPNv6) and four
//	              FRR CEs in VRFs red and blue with the same addresses and
//	              prefixes in both, eBGP to their PE over IPv4 and IPv6,
//	              AS 65100 at every site (as-override); ESP between the PEs
//	three-site/   three PEs, full-mesh iBGP (VPNv4 and VPNv6) and a full
//	              mesh of ESP tunnels, FRR CEs as in l3vpn-ipsec; and its
//	              variant three-site-v6core.clab.yml (configs in v6core/):
//	              the same sites, with plain static-routed CEs, on an
//	              IPv6-only core, an FRR IPv6 route reflector, VPNv4 with
//	              IPv6 next hops (RFC 8950)
//	examples/     a minimal peregrined.yml
//
// A Peregrine node binds its directory to /etc/peregrine: peregrined.yml and
// the ESP key files it names (relative to that directory). Git does not keep
// the 0600 mode peregrined demands of key files: run chmod 600 */*.key in a
// lab's directory before deploying it. The image is built by Dockerfile.
//
// The tests validate each topology file against containerlab's own JSON
// schema (fetched with `go mod download`, not a dependency of this module),
// load every node's peregrined.yml with config.Load as `peregrined -check`
// would, and check what neither catches: link endpoints name defined nodes
// and use each interface once, VRF interfaces are links, the PEs' tunnels
// pair up (SPIs, ciphers and keys of both directions), BGP sessions are
// configured at both ends (a PE's CE sessions too: the CE sits on the
// VRF's link, runs the AS the PE expects and has a session back), the
// addresses the configurations name are assigned on a node, and FRR
// accepts its configuration (vtysh --dryrun,
// where FRR is installed). Running the labs without Docker is the job of
// labs/clab (`peregrine-lab deploy -t FILE`); cmd/peregrine-lab's TestDemo
// runs the topologies that way and pings between the CEs of each VRF, and
// TestCEASOverride shows what as-override does for the FRR CEs.
//
// The image, binds and entrypoints are exercised by clab-test.sh (make
// clab-test): containerlab itself deploys every topology with a private
// dockerd, from the image Dockerfile builds, and `peregrine-lab check
// -docker` judges each lab as the demo does; a copy of l3vpn-ipsec with
// broken node configs must fail naming peregrined's errors.
// runc-nosysresource is the runc wrapper that dockerd uses there (see
// its header for why).
package containerlab
