package kernel

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// translateCase is a State on a fake PE and what its translation must be.
type translateCase struct {
	name   string
	state  *fib.State
	devs   routeDevices
	kernel *fakeKernel
	want   []string // lines, any order
	errs   []string // the errors' texts, any order
	// reads: at most this many route lookups and ARP reads
	maxRouteGets, maxNeighLists int
}

// translateCases are TestTranslate's table, with fresh fakes on each
// call; TestRouteSyncReplay replays their States.
func translateCases() []translateCase {
	return []translateCase{
		{
			name: "VPNv4 per-VRF labels",
			state: &fib.State{
				VRFs: vrfs(
					vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), remote("10.2.0.0/24", "192.168.2.2", 2001), remote("10.3.0.0/24", "192.168.2.2", 2001)),
					vrf("blue", 1001, local("10.1.0.0/24", "ce2", ""), remote("10.2.0.0/24", "192.168.2.2", 2002))),
				Labels: map[mpls.Label]fib.LabelAction{1001: {Kind: fib.PopLookup, VRF: "red"}, 1002: {Kind: fib.PopLookup, VRF: "blue"}},
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), unreachables(1001), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
				"ip route add 10.3.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
				"ip route add 10.1.0.0/24 dev ce2 table 1001",
				"ip route add 10.2.0.0/24 encap mpls 2002 via 192.168.1.2 dev core table 1001",
				"ip -f mpls route add 1001 dev vrf-red",
				"ip -f mpls route add 1002 dev vrf-blue",
			}),
			maxRouteGets: 1, // one lookup per remote PE, not per route
		},
		{
			name: "VPNv6 over an IPv4 core (6VPE)",
			state: &fib.State{VRFs: vrfs(
				vrf("red", 1000, local("2001:db8:1::/64", "ce1", ""), local("2001:db8:9::/64", "ce1", "2001:db8:1::2"),
					remote("2001:db8:2::/64", "192.168.2.2", 2001), remote("2001:db8:3::/64", "192.168.2.2", 2001),
					remote("10.2.0.0/24", "192.168.2.2", 2001)),
				vrf("blue", 1001, remote("2001:db8:2::/64", "192.168.1.2", 2002)))}, // P as the PE: connected
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), unreachables(1001), []string{
				// One entry for both VRFs and every route: same gateway, same interface.
				"ip -6 neigh replace ::ffff:192.168.1.2 lladdr 02:00:00:00:01:02 dev core nud permanent",
				"ip -6 route add 2001:db8:1::/64 dev ce1 table 1000",
				"ip -6 route add 2001:db8:9::/64 via 2001:db8:1::2 dev ce1 table 1000",
				"ip -6 route add 2001:db8:2::/64 encap mpls 2001 via ::ffff:192.168.1.2 dev core onlink table 1000",
				"ip -6 route add 2001:db8:3::/64 encap mpls 2001 via ::ffff:192.168.1.2 dev core onlink table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
				"ip -6 route add 2001:db8:2::/64 encap mpls 2002 via ::ffff:192.168.1.2 dev core onlink table 1001",
			}),
			maxRouteGets: 2, maxNeighLists: 1,
		},
		{
			name: "over an IPv6 core",
			state: &fib.State{VRFs: vrfs(vrf("red", 1000,
				remote("2001:db8:2::/64", "2001:db8:e::2", 2001), remote("10.2.0.0/24", "2001:db8:e::2", 2001)))},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip -6 route add 2001:db8:2::/64 encap mpls 2001 via 2001:db8:c::2 dev core6 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 via inet6 2001:db8:c::2 dev core6 table 1000",
			}),
			maxRouteGets: 1,
		},
		{
			name: "per-prefix labels",
			state: &fib.State{
				VRFs: vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), local("10.9.0.0/16", "ce1", "10.1.0.2"),
					remote("10.2.0.0/24", "192.168.2.2", 3001), remote("10.3.0.0/24", "192.168.2.2", 3002),
					remote("10.4.0.0/24", "192.168.2.2", 3003, 16))), // a stack, outermost first
				Labels: map[mpls.Label]fib.LabelAction{
					4001: {Kind: fib.PopForward, VRF: "red", Interface: "ce1"},
					4002: {Kind: fib.PopForward, VRF: "red", Interface: "ce1", NextHop: addr("10.1.0.2")},
					4003: {Kind: fib.PopForward, VRF: "red", Interface: "ce1", NextHop: addr("2001:db8:1::2")},
				},
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add 10.9.0.0/16 via 10.1.0.2 dev ce1 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 3001 via 192.168.1.2 dev core table 1000",
				"ip route add 10.3.0.0/24 encap mpls 3002 via 192.168.1.2 dev core table 1000",
				"ip route add 10.4.0.0/24 encap mpls 3003/16 via 192.168.1.2 dev core table 1000",
				"ip -f mpls route add 4001 dev vrf-red", // connected: no via, see translate
				"ip -f mpls route add 4002 via inet 10.1.0.2 dev ce1",
				"ip -f mpls route add 4003 via inet6 2001:db8:1::2 dev ce1",
			}),
			maxRouteGets: 1,
		},
		{
			name: "own transport labels: popped to lo",
			state: &fib.State{
				VRFs:                 vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", ""))),
				Labels:               map[mpls.Label]fib.LabelAction{1001: {Kind: fib.PopLookup, VRF: "red"}},
				MPLSInterfaces:       []string{"core"},
				LocalTransportLabels: []mpls.Label{100001, 100002, 1001}, // 1001 is a VPN label: not taken
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip -f mpls route add 1001 dev vrf-red",
				"ip -f mpls route add 100001 dev lo",
				"ip -f mpls route add 100002 dev lo",
			}),
		},
		{
			name: "ESP-protected peers: into their TUNs, never over the core",
			state: &fib.State{
				VRFs: vrfs(
					vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), remote("10.2.0.0/24", "192.168.2.2", 2001),
						remote("2001:db8:2::/64", "192.168.2.2", 2001)),
					vrf("blue", 1001, remote("10.2.0.0/24", "::ffff:192.168.2.2", 2002))), // a mapped next hop finds its TUN
				Tunnels: map[netip.Addr]*fib.Tunnel{addr("192.168.2.2"): {Remote: addr("192.168.2.2")}},
				Labels:  map[mpls.Label]fib.LabelAction{1001: {Kind: fib.PopLookup, VRF: "red"}},
			},
			devs:   espDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), unreachables(1001), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 dev pgesp-0 table 1000",
				"ip -6 route add 2001:db8:2::/64 encap mpls 2001 dev pgesp-0 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2002 dev pgesp-0 table 1001",
				"ip -f mpls route add 1001 dev vrf-red",
			}),
			maxRouteGets: 0, maxNeighLists: 0, // the core's routes and ARP table are not even read
		},
		{
			name: "ESP: a peer without tunnel still gets its TUN, where the Gateway drops",
			state: &fib.State{
				VRFs:    vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001), remote("10.3.0.0/24", "192.168.3.3", 3001))),
				Tunnels: map[netip.Addr]*fib.Tunnel{addr("192.168.2.2"): {Remote: addr("192.168.2.2")}}, // none to 192.168.3.3
			},
			devs:   espDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.2.0.0/24 encap mpls 2001 dev pgesp-0 table 1000",
				"ip route add 10.3.0.0/24 encap mpls 3001 dev pgesp-1 table 1000",
			}),
		},
		{
			name: "ESP: a remote PE the Gateway gave no TUN is an error, not the core",
			state: &fib.State{VRFs: vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001),
				remote("10.4.0.0/24", "192.168.4.4", 4001)))},
			devs: routeDevices{VRFs: coreDevs.VRFs, ESP: true, ESPTUNs: map[netip.Addr]string{addr("192.168.2.2"): "pgesp-0"}},
			kernel: newFakePE(func(k *fakeKernel) {
				k.routes[addr("192.168.4.4")] = netlink.Route{Gw: net.ParseIP("192.168.1.2"), LinkIndex: 2}
			}),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.2.0.0/24 encap mpls 2001 dev pgesp-0 table 1000",
			}),
			errs: []string{"vrf red route 10.4.0.0/24: no ESP gateway device for remote PE 192.168.4.4"},
		},
		{
			name: "ESP: the Gateway failed to apply (no TUNs at all): nothing over the core",
			state: &fib.State{VRFs: vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", ""),
				remote("10.2.0.0/24", "192.168.2.2", 2001)))},
			devs:   routeDevices{VRFs: coreDevs.VRFs, ESP: true},
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
			}),
			errs: []string{"vrf red route 10.2.0.0/24: no ESP gateway device for remote PE 192.168.2.2"},
		},
		{
			name:  "IPsec attachments: site prefixes into their VRF's attachment TUN",
			state: attachmentState(),
			devs: routeDevices{VRFs: coreDevs.VRFs, ESP: true, ESPTUNs: espDevs.ESPTUNs,
				AttachmentTUNs: map[string]string{"red": "pga-red", "blue": "pga-blue"}},
			kernel: newFakePE(withAttachmentTUNs),
			want: slices.Concat(unreachables(1000), unreachables(1001), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add 10.9.0.0/24 dev pga-red table 1000",
				"ip -6 route add fd00:9::/64 dev pga-red table 1000",
				"ip route add 172.16.5.7/32 dev pga-red table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 dev pgesp-0 table 1000",
				"ip route add 10.9.0.0/24 dev pga-blue table 1001",
			}),
		},
		{
			name:  "IPsec attachments without a Gateway TUN (none, or it failed): blackholes, never clear",
			state: attachmentState(),
			devs: routeDevices{VRFs: coreDevs.VRFs, ESP: true, ESPTUNs: espDevs.ESPTUNs,
				AttachmentTUNs: map[string]string{"blue": "pga-blue"}},
			kernel: newFakePE(withAttachmentTUNs),
			want: slices.Concat(unreachables(1000), unreachables(1001), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add blackhole 10.9.0.0/24 table 1000",
				"ip -6 route add blackhole fd00:9::/64 table 1000",
				"ip route add blackhole 172.16.5.7/32 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 dev pgesp-0 table 1000",
				"ip route add 10.9.0.0/24 dev pga-blue table 1001",
			}),
		},
		{
			name:   "IPsec attachments, no ESP gateway at all: blackholes",
			state:  &fib.State{VRFs: attachmentState().VRFs},
			devs:   coreDevs,
			kernel: newFakePE(withAttachmentTUNs),
			want: slices.Concat(unreachables(1000), unreachables(1001), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add blackhole 10.9.0.0/24 table 1000",
				"ip -6 route add blackhole fd00:9::/64 table 1000",
				"ip route add blackhole 172.16.5.7/32 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
				"ip route add blackhole 10.9.0.0/24 table 1001",
			}),
			maxRouteGets: 1,
		},
		{
			name: "unprotected peer: over the core, protected ones into their TUNs",
			state: &fib.State{
				VRFs: vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), remote("10.2.0.0/24", "192.168.2.2", 2001),
					remote("10.3.0.0/24", "192.168.3.3", 3001), remote("2001:db8:3::/64", "192.168.3.3", 3001))),
				Tunnels:          map[netip.Addr]*fib.Tunnel{addr("192.168.2.2"): {Remote: addr("192.168.2.2")}},
				UnprotectedPeers: []netip.Prefix{pfx("192.168.3.0/24")},
				MPLSInterfaces:   []string{"core"},
			},
			devs: espDevs,
			kernel: newFakePE(func(k *fakeKernel) {
				k.routes[addr("192.168.3.3")] = netlink.Route{Gw: net.ParseIP("192.168.1.2"), LinkIndex: 2}
			}),
			want: slices.Concat(unreachables(1000), []string{
				"ip -6 neigh replace ::ffff:192.168.1.2 lladdr 02:00:00:00:01:02 dev core nud permanent",
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip route add 10.2.0.0/24 encap mpls 2001 dev pgesp-0 table 1000",
				"ip route add 10.3.0.0/24 encap mpls 3001 via 192.168.1.2 dev core table 1000",
				"ip -6 route add 2001:db8:3::/64 encap mpls 3001 via ::ffff:192.168.1.2 dev core onlink table 1000",
			}),
			maxRouteGets: 1, maxNeighLists: 1,
		},
		{
			name: "unprotected peer across a P router: the static transport label on top",
			state: &fib.State{
				VRFs:             vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001), remote("2001:db8:2::/64", "192.168.2.2", 2001))),
				UnprotectedPeers: []netip.Prefix{pfx("192.168.2.2/32")},
				MPLSInterfaces:   []string{"core"},
				TransportLabels:  map[netip.Addr]mpls.Label{addr("192.168.2.2"): 16002},
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip -6 neigh replace ::ffff:192.168.1.2 lladdr 02:00:00:00:01:02 dev core nud permanent",
				"ip route add 10.2.0.0/24 encap mpls 16002/2001 via 192.168.1.2 dev core table 1000",
				"ip -6 route add 2001:db8:2::/64 encap mpls 16002/2001 via ::ffff:192.168.1.2 dev core onlink table 1000",
			}),
			maxRouteGets: 1, maxNeighLists: 1,
		},
		{
			name: "unprotected peers listed, no IPsec: a PE just outside them gets a blackhole, not the core",
			state: &fib.State{
				VRFs:             vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001), remote("10.3.0.0/24", "192.168.2.3", 3001))),
				UnprotectedPeers: []netip.Prefix{pfx("192.168.2.2/32")},
				MPLSInterfaces:   []string{"core"},
			},
			devs: coreDevs,
			kernel: newFakePE(func(k *fakeKernel) {
				k.routes[addr("192.168.2.3")] = netlink.Route{Gw: net.ParseIP("192.168.1.2"), LinkIndex: 2}
			}),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
				"ip route add blackhole 10.3.0.0/24 table 1000",
			}),
			maxRouteGets: 1,
		},
		{
			name: "MPLS interfaces named, the last unprotected peer removed by reload: blackholes, not the core",
			state: &fib.State{
				VRFs:           vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001))),
				MPLSInterfaces: []string{"core"},
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add blackhole 10.2.0.0/24 table 1000",
			}),
		},
		{
			name: "unprotected peer reached by an interface that is not an MPLS interface: no route",
			state: &fib.State{
				VRFs:             vrfs(vrf("red", 1000, remote("2001:db8:2::/64", "2001:db8:e::2", 2001))),
				UnprotectedPeers: []netip.Prefix{pfx("2001:db8:e::/64")},
				MPLSInterfaces:   []string{"core"},
			},
			devs:         coreDevs,
			kernel:       newFakePE(),
			want:         unreachables(1000),
			errs:         []string{"vrf red route 2001:db8:2::/64: remote PE 2001:db8:e::2 is reached by interface 5, not one of dataplane.mpls-interfaces [core]"},
			maxRouteGets: 1,
		},
		{
			name:   "ESP: a TUN that is gone",
			state:  &fib.State{VRFs: vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001)))},
			devs:   espDevs,
			kernel: newFakePE(func(k *fakeKernel) { delete(k.links, "pgesp-0") }),
			want:   unreachables(1000),
			errs:   []string{"vrf red route 10.2.0.0/24: link pgesp-0 not found"},
		},
		{
			name: "MPLS pop routes into VRFs; a VRF without device gets neither routes nor labels",
			state: &fib.State{
				VRFs: vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", "")), vrf("green", 1002, local("10.1.0.0/24", "ce2", ""))),
				Labels: map[mpls.Label]fib.LabelAction{
					1001: {Kind: fib.PopLookup, VRF: "red"}, 1002: {Kind: fib.PopLookup, VRF: "blue"}, // blue: a device, no VRF in this State
					1003: {Kind: fib.PopLookup, VRF: "green"}, // green: no device (its step failed and said so)
				},
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
				"ip -f mpls route add 1001 dev vrf-red",
				"ip -f mpls route add 1002 dev vrf-blue",
			}),
		},
		{
			name: "missing CE interface and label interface",
			state: &fib.State{
				VRFs:   vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), local("10.7.0.0/24", "ce7", ""))),
				Labels: map[mpls.Label]fib.LabelAction{4007: {Kind: fib.PopForward, VRF: "red", Interface: "ce7"}},
			},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
			}),
			errs: []string{"vrf red route 10.7.0.0/24: link ce7 not found", "label 4007: link ce7 not found"},
		},
		{
			name: "no route to a remote PE: its routes are errors, looked up once",
			state: &fib.State{VRFs: vrfs(vrf("red", 1000, remote("10.2.0.0/24", "192.168.2.2", 2001),
				remote("10.5.0.0/24", "192.168.5.5", 5001), remote("10.6.0.0/24", "192.168.5.5", 5001)))},
			devs:   coreDevs,
			kernel: newFakePE(),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
			}),
			errs: []string{
				"vrf red route 10.5.0.0/24: no route to remote PE 192.168.5.5 in the main table: network is unreachable",
				"vrf red route 10.6.0.0/24: no route to remote PE 192.168.5.5 in the main table: network is unreachable",
			},
			maxRouteGets: 2,
		},
		{
			name: "6VPE gateway without a usable ARP entry: no neighbor, no route, the IPv4 route stays",
			state: &fib.State{VRFs: vrfs(vrf("red", 1000, remote("2001:db8:2::/64", "192.168.2.2", 2001),
				remote("2001:db8:3::/64", "192.168.2.2", 2001), remote("10.2.0.0/24", "192.168.2.2", 2001)))},
			devs: coreDevs,
			kernel: newFakePE(func(k *fakeKernel) {
				k.arp[2] = []netlink.Neigh{
					{IP: net.ParseIP("192.168.1.2").To4(), State: netlink.NUD_INCOMPLETE},
					{IP: net.ParseIP("192.168.1.2").To4(), HardwareAddr: macP, State: netlink.NUD_FAILED},
				}
			}),
			want: slices.Concat(unreachables(1000), []string{
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
			}),
			errs: []string{
				"vrf red route 2001:db8:2::/64: next hop 192.168.1.2 has no ARP entry yet",
				"vrf red route 2001:db8:3::/64: next hop 192.168.1.2 has no ARP entry yet",
			},
			maxRouteGets: 1, maxNeighLists: 1,
		},
		{
			name:   "the quarantine's table is kept while its device exists",
			state:  &fib.State{VRFs: vrfs(vrf("red", 1000, local("10.1.0.0/24", "ce1", "")))},
			devs:   coreDevs,
			kernel: newFakePE(func(k *fakeKernel) { k.links[QuarantineDevice] = 30 }),
			want: slices.Concat(unreachables(1000), unreachables(QuarantineTable), []string{
				"ip route add 10.1.0.0/24 dev ce1 table 1000",
			}),
		},
		{
			name:  "a route neither local nor remote is left out",
			state: &fib.State{VRFs: vrfs(vrf("red", 1000, fib.Route{Prefix: pfx("10.8.0.0/24")}))},
			devs:  coreDevs, kernel: newFakePE(),
			want: unreachables(1000),
		},
	}
}

func TestTranslate(t *testing.T) {
	for _, c := range translateCases() {
		t.Run(c.name, func(t *testing.T) {
			d := translate(c.state, c.devs, c.kernel)
			if diff := lineDiff(d.lines(c.kernel.names()), c.want); diff != "" {
				t.Errorf("desired kernel state (- missing, + unexpected):\n%s", diff)
			}
			var got []string
			for _, err := range d.errs {
				got = append(got, err.Error())
			}
			if diff := lineDiff(got, c.errs); diff != "" {
				t.Errorf("errors (- missing, + unexpected):\n%s", diff)
			}
			if c.kernel.routeGets > c.maxRouteGets || c.kernel.neighLists > c.maxNeighLists {
				t.Errorf("read %d routes and %d ARP tables, want at most %d and %d",
					c.kernel.routeGets, c.kernel.neighLists, c.maxRouteGets, c.maxNeighLists)
			}
			checkRouteInvariants(t, d)
		})
	}
}

// checkRouteInvariants: what every desired route carries and the lines do
// not show.
func checkRouteInvariants(t *testing.T, d *desired) {
	t.Helper()
	for k, r := range d.routes {
		if r.Protocol != RTProto {
			t.Errorf("%s: protocol %d, want %d: Apply would never remove it", k, r.Protocol, RTProto)
		}
		if got := routeKey(r); got != k {
			t.Errorf("route filed under %q has key %q", k, got)
		}
		device := r.MPLSDst == nil && r.Type != unix.RTN_UNREACHABLE && r.Type != unix.RTN_BLACKHOLE && r.Gw == nil && r.Via == nil
		if device && r.Scope != netlink.SCOPE_LINK {
			t.Errorf("%s: a device route of scope %d, want link", k, r.Scope)
		}
		if r.Family == netlink.FAMILY_V6 && r.Gw.To4() != nil {
			if r.Flags&int(netlink.FLAG_ONLINK) == 0 {
				t.Errorf("%s: an IPv4-mapped gateway without onlink: the kernel refuses it", k)
			}
			if n, ok := d.neighbors[neighborKey(r.LinkIndex, r.Gw)]; !ok || !slices.ContainsFunc(n.users, func(u neighborUser) bool { return u.key == k }) {
				t.Errorf("%s: its neighbor entry does not list it: a failed write would leave it in", k)
			}
		}
	}
	for _, n := range d.neighbors {
		if len(n.IP) != net.IPv6len || n.IP.To4() == nil {
			t.Errorf("neighbor %v is not a 16-byte IPv4-mapped address", n.IP)
		}
	}
}

// TestTranslateMatchesVMGolden: the State of TestTwoPEsForwardByKernelMPLS
// on a fake of its PE1 translates to the routes the VM read back from a
// real kernel (testdata/pe1.golden), the devices made by the other steps
// of Apply aside.
func TestTranslateMatchesVMGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/pe1.golden")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(golden)), "\n") {
		if !strings.HasPrefix(l, "ip link ") {
			want = append(want, l)
		}
	}
	s := peState("10.1.0.0/24", "10.2.0.0/24", addr("192.168.2.2"), "ce1", "ce2", 1001, 1002, 2001, 2002)
	k := newFakePE()
	d := translate(s, routeDevices{VRFs: map[string]int{"red": k.links["vrf-red"], "blue": k.links["vrf-blue"]}}, k)
	if len(d.errs) > 0 {
		t.Fatal(d.errs)
	}
	if got := d.lines(k.names()); !slices.Equal(got, want) {
		t.Errorf("translation of PE1:\n%s\nthe VM's kernel (testdata/pe1.golden):\n%s\ndiff (- missing, + unexpected):\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"), lineDiff(got, want))
	}
}

// TestWriteNeighborsWithholdsRoutes: the apply step writes each neighbor
// entry once; when a write fails, the routes through that entry, and only
// those, leave the desired routes (so the sync removes any old copy the
// kernel has) and are named in errors.
func TestWriteNeighborsWithholdsRoutes(t *testing.T) {
	k := newFakePE(func(k *fakeKernel) {
		k.links["core2"] = 6
		k.routes[addr("192.168.3.3")] = netlink.Route{Gw: net.ParseIP("192.168.6.2"), LinkIndex: 6}
		k.arp[6] = []netlink.Neigh{{IP: net.ParseIP("192.168.6.2").To4(), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 6, 2}, State: netlink.NUD_PERMANENT}}
	})
	s := &fib.State{VRFs: vrfs(
		vrf("red", 1000, remote("2001:db8:2::/64", "192.168.2.2", 2001), remote("2001:db8:3::/64", "192.168.3.3", 3001),
			remote("10.3.0.0/24", "192.168.3.3", 3001)),
		vrf("blue", 1001, remote("2001:db8:3::/64", "192.168.3.3", 3002)))}
	d := translate(s, coreDevs, k)
	if len(d.errs) > 0 || len(d.neighbors) != 2 {
		t.Fatalf("translation: %d neighbors, errors %v; want 2 and none", len(d.neighbors), d.errs)
	}
	writes := map[string]int{}
	errs := d.writeNeighbors(func(n *mappedNeighbor) error {
		writes[n.IP.To4().String()]++
		if n.LinkIndex == 6 {
			return errors.New("operation not permitted")
		}
		return nil
	})
	if writes["192.168.1.2"] != 1 || writes["192.168.6.2"] != 1 || len(writes) != 2 {
		t.Errorf("neighbor writes %v, want one each for 192.168.1.2 and 192.168.6.2", writes)
	}
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	if diff := lineDiff(got, []string{
		"vrf red route 2001:db8:3::/64: operation not permitted",
		"vrf blue route 2001:db8:3::/64: operation not permitted",
	}); diff != "" {
		t.Errorf("errors (- missing, + unexpected):\n%s", diff)
	}
	// The neighbor entry that was written stays in the lines; the routes
	// through the other are gone, the IPv4 route to the same PE is not.
	want := slices.Concat(unreachables(1000), unreachables(1001), []string{
		"ip -6 neigh replace ::ffff:192.168.1.2 lladdr 02:00:00:00:01:02 dev core nud permanent",
		"ip -6 neigh replace ::ffff:192.168.6.2 lladdr 02:00:00:00:06:02 dev core2 nud permanent",
		"ip -6 route add 2001:db8:2::/64 encap mpls 2001 via ::ffff:192.168.1.2 dev core onlink table 1000",
		"ip route add 10.3.0.0/24 encap mpls 3001 via 192.168.6.2 dev core2 table 1000",
	})
	if diff := lineDiff(d.lines(k.names()), want); diff != "" {
		t.Errorf("after the writes (- missing, + unexpected):\n%s", diff)
	}
}

// attachmentState has a site gateway in red (10.9.0.0/24 and fd00:9::/64
// behind it), a remote-access host leased 172.16.5.7 in red, and a site
// gateway in blue with red's site prefix, beside red's CE and a route to
// a protected PE.
func attachmentState() *fib.State {
	att := func(name string) fib.Route { return fib.Route{Attachment: name} }
	site := func(prefix, name string) fib.Route { r := att(name); r.Prefix = pfx(prefix); return r }
	return &fib.State{
		VRFs: vrfs(
			vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), remote("10.2.0.0/24", "192.168.2.2", 2001),
				site("10.9.0.0/24", "gw-red"), site("fd00:9::/64", "gw-red"), site("172.16.5.7/32", "pool-red-h1")),
			vrf("blue", 1001, site("10.9.0.0/24", "gw-blue"))),
		Tunnels: map[netip.Addr]*fib.Tunnel{addr("192.168.2.2"): {Remote: addr("192.168.2.2")}},
		Attachments: map[string]*fib.Attachment{
			"gw-red":      {Name: "gw-red", VRF: "red"},
			"pool-red-h1": {Name: "pool-red-h1", VRF: "red", Pool: "pool-red"},
			"gw-blue":     {Name: "gw-blue", VRF: "blue"},
		},
	}
}

// withAttachmentTUNs adds the Gateway's attachment TUNs to the fake.
func withAttachmentTUNs(k *fakeKernel) { k.links["pga-red"], k.links["pga-blue"] = 30, 31 }
