// Package userspace is the fib backend that works on any Linux kernel, with
// no MPLS forwarding, VRF devices or kernel ESP: the kernel keeps routing
// IP by policy, and a Go fast path pushes and pops VPN labels and seals and
// opens ESP between PEs.
//
// # What it builds in the kernel
//
// For each VRF of the State (names as fib.TUNName gives them):
//
//	ip tuntap: a TUN device pg-VRF, up, MTU 9000 (made by this process, gone with it; toobig.go says why),
//	           qdisc noqueue, IPv6 without link-local address or router role (tundev.go says why)
//	ip rule add iif CE-IF lookup TABLE pref 1000 protocol 204      (each CE interface, IPv4 and IPv6)
//	ip rule add iif pg-VRF lookup TABLE pref 1000 protocol 204     (what the fast path writes into the TUN)
//	ip route replace REMOTE-PREFIX dev pg-VRF table TABLE proto 204
//	ip route replace LOCAL-PREFIX via CE dev CE-IF onlink table TABLE proto 204
//	ip route replace CONNECTED-PREFIX dev CE-IF table TABLE proto 204
//	ip route replace blackhole default table TABLE metric 4278198272 proto 204     (IPv4 and IPv6)
//	ip route replace local|broadcast|multicast ... dev CE-IF table TABLE proto 204 (copies of the local table's)
//
// and, while it holds any CE interface, once (rules.go):
//
//	ip rule add iif lo goto 1001 pref 486 protocol 204                    (the host's own packets skip the VRF rules)
//	ip rule add iif pg-VRF to PE-ADDR blackhole pref 999 protocol 204    (each address on the VRF's CE interfaces)
//	ip rule add nop pref 0 protocol 204                                   (the anchor: ruleorder.go says why)
//	ip rule add lookup local pref 1001 protocol 204; ip rule del pref 0 lookup local
//	ip rule add iif lo to CE-SUBNET lookup main pref 1002 protocol 204   (each CE interface's address prefix,
//	ip rule add to CE-SUBNET blackhole pref 1003 protocol 204             adjacent ones merged: cover.go)
//
// The blackhole defaults keep a CE's packet with no VRF route from falling
// through to the main table: VRFs stay isolated from each other and from the
// core. The local rule comes after the VRF rules, as the kernel's VRF
// documentation moves it, so a CE reaches none of the PE's own addresses
// (its BGP, API and metrics sockets) but those of its VRF table: the
// copies of its interface's local routes, which also answer its ARP and
// neighbour solicitations. Remote sites, through the TUN, do not reach
// those either: the host would answer them by the main table. The CE subnets, which the kernel puts in the
// main table as connected routes, are reachable only from their VRFs and
// from the host itself (its answers to its CEs): a packet from the core or
// the management network to a CE is dropped, as anything else that enters
// a VRF but opened ESP through the TUN. Everything the backend installs
// carries protocol 204 (RTProto), so Apply recognises its own rules and
// routes, including a crashed run's leftovers, and removes what the State
// no longer asks for; it touches nothing else but the priority-0 local
// rule, which it puts back once it holds no CE interface. Rules are
// added before stale ones are removed, so a change never leaves a CE
// interface without a rule. Apply also turns on IPv4 and IPv6 forwarding.
//
// An Apply costs requests for what it changes, not for the VRFs it
// leaves alone: it reads the host's links, addresses and local table
// once, and not again until a netlink monitor hears of a link or address
// change (hostview.go, hostwatch.go), syncs rules and routes by difference from what the
// last sync left (rules.go, routes.go; a full dump now and then repairs
// others' changes, and the route sync dumps at once after the monitor
// hears of a link going down or an address going away, since the kernel
// then deletes routes in the VRF tables too), and sends its rule and
// route changes in batches
// (batch.go, package fib/internal/nlbatch).
//
// The rules cost every packet: the kernel walks the policy rules one by
// one at each route lookup, and the rules above are two per VRF and
// family and more (the TUN-to-PE blackholes). So the packets find their
// VRF's rules by mark, through a tree (marks.go, nftmarks.go):
//
//	table inet peregrine: prerouting, priority mangle: meta mark set iifname map @marks  (CE-IF and pg-VRF -> the VRF's mark)
//	ip rule add iif lo goto 1001 pref 486                                   (and the core interface's)
//	ip rule add fwmark 0/0x3fff0000 goto 999 pref 487                       (unmarked: to the rules above)
//	ip rule add fwmark BUCKET/0x3fc00000 goto 488+2b-1 pref 488             (each bucket b of 64 VRFs in use)
//	ip rule add iif pg-VRF to PE-ADDR blackhole pref 488+2b-1               (the bucket's TUNs')
//	ip rule add iif IF fwmark VRF-MARK/0x3fff0000 lookup TABLE pref 488+2b  (each CE-IF and pg-VRF of the bucket)
//	sysctl net.ipv4.conf.IF.src_valid_mark=1                                 (each CE-IF and pg-VRF)
//
// all of protocol 204, in IPv4 and IPv6: a packet meets about 250 rules
// at 2,000 VRFs instead of 6,000. A leaf names its interface, so the
// tree sends a packet, whatever its mark, nowhere its input interface's
// rules above would not; the rules above stay, after the tree, for
// packets without a mark (nf_tables missing, the map not yet written).
// The map sets the whole mark, so a mark of the operator's own on a CE
// interface's or TUN's packets, set earlier in prerouting, is lost; set
// it after priority mangle, outside 0x3fff0000 (MarkMask), instead.
// The host's own packets and the core interface's skip all of them (the
// gotos at 486) and the CE subnets' rules are merged (cover.go). Before
// the tree, with 1,999 idle VRFs beside it one VRF's iperf3 ran at
// about 0.6x its rate alone (scalebench -busy 2000, a shared 2-CPU
// machine), where issue 23 asks for 0.9x.
//
// # The quarantine: stopping, failing, removing a VRF
//
// A CE interface whose rule went away would fall back to the main table,
// and its packets would leave in clear by whatever route the host has (in
// containerlab, a default route out of the management interface). So the
// backend never lets one go while it runs, nor when it stops:
//
//	ip rule add iif CE-IF blackhole pref 1000 protocol 204      (IPv4 and IPv6)
//
// replaces the VRF rule of each CE interface a reload takes out of the
// State (a VRF removed, an interface dropped from one), and Close (SIGTERM,
// and every start-up failure once the FIB has started, since the daemon
// closes the backend then) leaves that rule for every CE interface it held
// or quarantined, with the moved local rule, the anchor, the host's skip
// and the CE subnet rules, and removes the routes, the TUNs, the mark
// tree and the nftables table of marks. Its packets are dropped; protected traffic
// stops rather than leaks. A crash (SIGKILL) leaves the VRF rules and
// tables, whose remote routes die with the TUNs: what is left drops too;
// and the table of marks, which the next run's first Apply replaces
// whole (a leftover mark only ever finds a leaf of its own interface).
//
// The next run's first Apply takes the quarantine over: an interface its
// State names goes back to its VRF (the VRF rule is added before the
// blackhole is removed), and one it does not name is released to the main
// table. So an operator gets an interface back by removing it from the
// configuration and restarting the daemon, or by hand while it is stopped:
//
//	ip rule del iif CE-IF pref 1000 protocol 204; ip -6 rule del iif CE-IF pref 1000 protocol 204
//
// (and, with no CE interface left, `ip rule add pref 0 lookup local`, then
// `ip rule flush protocol 204`, in both families, restores the host's
// rules as they were; the flush takes the anchor, `0: from all nop proto
// 204`, too).
//
// # The fast path
//
// send.go and receive.go draw it. Outbound, a goroutine per VRF reads
// batches from the VRF's TUN (wireguard-go's tun package, with the kernel's
// TSO handing over TCP super-packets cut into segments), looks each
// destination up in the VRF's route table (a bart trie, an immutable
// snapshot behind an atomic.Pointer, copied on write by Apply), pushes the
// label stack, seals ESP with next header 137 (RFC 4023) and sends the
// batch with one sendmmsg, runs of equal-sized packets to one PE coalesced
// with UDP GSO (package ipsec/esptransport, which owns the sockets). A packet whose remote PE has no tunnel or no
// outbound SA is dropped and counted: never sent in clear. Inbound, a
// goroutine per socket receives batches with recvmmsg (esptransport's
// Socket.Receive, which cuts UDP GRO runs up again and passes IKE to
// Options.IKE), opens ESP through an esptransport.InboundTable (SPI ->
// SA), pops the label, finds the VRF in the LFIB snapshot and writes the
// inner packets into the VRF's TUN (whose GRO coalesces TCP segments again), where the policy rule
// routes them to the CE. Both per-packet functions are methods on
// dataplane that work on byte buffers alone, so tests call them without
// sockets and assert that they allocate nothing; esptransport's tests do
// the same for the batching wrappers around sendmmsg and recvmmsg.
//
// Concurrency and order: each VRF's TUN has one queue per CPU, each read
// by a goroutine of its own while it carries traffic (parked in Go's
// netpoller between batches, holding no OS thread and no buffers:
// tunwait.go, readbatch.go). A queue makes its tun.Device, whose read
// buffer and GRO tables are large, at its first packet and lets go of it
// after 30 s without one (tunqueue.go); its reader then returns, and the
// idle queue waits in one epoll set the Backend keeps for all of them,
// which starts a reader again at the next packet (tunpoll.go). So an
// idle VRF holds no goroutine, thread, buffer or device. The kernel
// puts each flow on one queue by
// its hash (tundev.go); inbound, one goroutine per socket. So each flow's
// packets stay in order, outbound crypto spreads over the cores as flows
// do, and no packet changes goroutine on the way. Inbound, all ESP from
// one PE arrives from one address and port; spreading a batch over
// helper goroutines was measured and did not pay on small machines (see
// docs/ARCHITECTURE.md). What spreads one PE pair over the cores is
// per-resource SAs (RFC 9611, fib.Tunnel.Resources): a tunnel with
// several outbound SAs seals what TUN queue q reads with SA q mod their
// number (each with its own key and sequence space), and port 4500 is
// a SO_REUSEPORT group of one socket per TUN queue, each with its
// reader goroutine, whose BPF program hands ESP to socket SPI mod n
// (esptransport.OpenSpread). Inbound SAs with consecutive SPIs are
// thus opened on different cores; a peer with one SA (strongSwan) is
// served by one socket, as before. Raw ESP stays on one socket. What a
// resource's inbound SA opens is written on the TUN queue of its lane
// (device.queue, dataplane.inLanes): the kernel's TUN learns a flow's
// queue from the packets written to it and reads the flow's next
// packets, replies included, from that queue, so both PEs seal a flow
// with one SA pair. Written all on one queue, every flow with replies
// was pinned to lane 0.
//
// SAs and remote PEs (tunnels.go, hops.go): an SA is made again only for
// a new key, outbound SAs are held per tunnel (remote PE and SPI), a
// manually keyed outbound SA seals only sequence numbers reserved in
// Options.Sequences (package ipsec/seqstore), and next hops and peers are
// counted so that PEs which leave the State leave memory.
//
// Counters: Stats returns them as a struct (per VRF, per SA, and inbound
// drops before a VRF is known), the fib.Counterer the local API, the
// metrics and the keying service read.
//
// # IPsec attachments
//
// attach.go draws the path of a site's tunnel-mode SAs (fib.Attachment):
// their inbound SPIs in a map of their own, checked before the PE table;
// after Open an IP packet (next header 4 or 41, never a label stack)
// whose inner source and destination lie in the SA's selectors goes into
// the attachment's VRF's TUN, anything else is dropped and counted
// (ts-violation, not-ip); a VRF route to a site prefix seals the IP
// packet as it is for the gateway. Attachment routes are "dev pg-VRF"
// in the VRF's table like remote routes. Under the kernel backend the
// Gateway runs the same code on a TUN per VRF, pga-VRF, enslaved to the
// VRF's device (gateway_attach.go).
//
// # Plain MPLS to unprotected peers
//
// A remote PE the State declares unprotected (fib.State.IsUnprotected)
// gets its VRF traffic as plain MPLS over Ethernet, on kernels without
// MPLS forwarding: plain.go and cores.go draw it. Outbound, its labels
// (and a static transport label above them, fib.State.TransportLabels)
// are pushed as for ESP, the next hop's Ethernet header (EtherType
// 0x8847) is written in front and the TUN reader sends the frames in
// batches with sendmmsg on an AF_PACKET socket bound to the core
// interface (packetsock.go). The next hop and its MAC come from the main
// table and the neighbour table; a resolver goroutine asks the kernel to
// resolve a missing MAC (NTF_USE) and, until it is known, packets are
// dropped and counted (no-neighbor). Inbound, one goroutine per
// State.MPLSInterfaces interface receives frames with recvmmsg, takes
// those addressed to this host from a MAC address that is the resolved
// next hop toward an unprotected peer on that interface (others: dropped,
// counted bad-source; a forged MAC on the same layer 2 still passes),
// pops an explicit null or one of this PE's own transport labels
// (fib.State.LocalTransportLabels) above the VPN label,
// finds the VRF in the LFIB (per-VRF and per-prefix labels alike), drops
// deeper stacks (unknown-label), applies the TTL as below and writes the
// inner packet into the VRF's TUN. Labelled frames on other interfaces
// reach no socket; with no kernel MPLS the kernel drops them. A PE that is
// neither protected nor unprotected has no way out: dropped, counted
// no-tunnel.
//
// # TTL
//
// The kernel's IP forwarding on each side of the TUN is the PE's IP hop: it
// decrements the TTL (and answers with ICMP time exceeded) going into the
// TUN at the ingress PE and coming out of it at the egress PE. So in
// Uniform mode the fast path copies the IP TTL into the label as it is and,
// on the way in, lowers the IP TTL to the label's if that is smaller,
// without decrementing again (mpls.IngressTTL and mpls.EgressTTL would count
// each PE twice). A CE then sees the same TTL as through the kernel backend.
//
// # The host's own packets toward CEs
//
// Policy routing tells VRFs apart by the interface a packet came in on, so
// it cannot place the host's own packets: ICMP errors the kernel generates
// for CE traffic (TTL exceeded) and answers to a CE pinging its PE-side address are routed by
// the main table. Toward a local CE subnet that is the CE's interface;
// toward a remote site it would be whatever the main table has, such as a
// management default route, and an ICMP error quotes the first bytes of a
// customer packet. So nothing coming out of the TUN may make the kernel
// answer: the VRF defaults are blackholes, not unreachable routes (a CE
// gets no "net unreachable" either, only silence); the fast path drops
// and counts (TTLExpired) a packet whose TTL would run out leaving the TUN
// (a remote site's traceroute sees no answer from this PE's hop); and
// remote sites' packets to the PE's own addresses in the VRF are dropped
// (see above). One case is left: a packet from the TUN larger than its CE
// interface's MTU (which only an interface below the fast path's MTU
// allows) gets "fragmentation needed" or "packet too big" from the
// kernel, by the main table. Where two VRFs share a CE subnet, the main table knows
// one of the two interfaces, and such packets for the other VRF's CE go to
// the wrong CE or nowhere. Path MTU, which matters most, is therefore done
// by the fast path itself (toobig.go). The rest needs a VRF device (the
// kernel backend) or marks on ingress (tc skbedit or netfilter), neither of
// which every kernel has.
//
// # Namespaces
//
// The backend works in the network namespace of the goroutine that calls
// New: its netlink handle, TUN devices and sockets are made there. A daemon
// running in one namespace just calls New and Apply. A test that needs PEs
// in several namespaces runs one backend per namespace in a helper process
// (see netns_test.go), since a Go process cannot cleanly be in several.
package userspace
