// Package userspace is the fib backend that works on any Linux kernel, with
// no MPLS forwarding, VRF devices or kernel ESP: the kernel keeps routing
// IP by policy, and a Go fast path pushes and pops VPN labels and seals and
// opens ESP between PEs.
//
// # What it builds in the kernel
//
// For each VRF of the State (names as fib.TUNName gives them):
//
//	ip tuntap: a TUN device pg-VRF, up, MTU 9000 (made by this process, gone with it; toobig.go says why)
//	ip rule add iif CE-IF lookup TABLE pref 1000 protocol 204      (each CE interface, IPv4 and IPv6)
//	ip rule add iif pg-VRF lookup TABLE pref 1000 protocol 204     (what the fast path writes into the TUN)
//	ip route replace REMOTE-PREFIX dev pg-VRF table TABLE proto 204
//	ip route replace LOCAL-PREFIX via CE dev CE-IF onlink table TABLE proto 204
//	ip route replace CONNECTED-PREFIX dev CE-IF table TABLE proto 204
//	ip route replace unreachable default table TABLE metric 4278198272 proto 204   (IPv4 and IPv6)
//
// The unreachable defaults keep a CE's packet with no VRF route from falling
// through to the main table: VRFs stay isolated from each other and from the
// core. Everything the backend installs carries protocol 204 (RTProto), so
// Apply recognises its own rules and routes, including a crashed run's
// leftovers, and removes what the State no longer asks for; it touches
// nothing else. Apply also turns on IPv4 and IPv6 forwarding.
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
// with UDP GSO (gso.go). A packet whose remote PE has no tunnel or no
// outbound SA is dropped and counted: never sent in clear. Inbound, a
// goroutine per socket receives batches with recvmmsg (UDP GRO runs cut up
// again, gro.go), opens ESP through an esp.InboundTable, pops the label,
// finds the VRF in the LFIB snapshot and writes the inner packets into the
// VRF's TUN (whose GRO coalesces TCP segments again), where the policy rule
// routes them to the CE. Both per-packet functions are methods on
// dataplane that work on byte buffers alone, so tests call them without
// sockets and assert that they allocate nothing; so are the batching
// wrappers around sendmmsg and recvmmsg.
//
// Concurrency and order: each VRF's TUN has one queue per CPU, each read
// by a goroutine of its own, and the kernel puts each flow on one queue by
// its hash (tundev.go); inbound, one goroutine per socket. So each flow's
// packets stay in order, outbound crypto spreads over the cores as flows
// do, and no packet changes goroutine on the way. Inbound, all ESP from
// one PE arrives on one socket (ESP-in-UDP's ports do not vary), so one
// PE's inbound traffic is opened on one core; spreading a batch over
// helper goroutines was measured and did not pay on small machines (see
// the issue 4 note).
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
// for CE traffic (TTL exceeded, net unreachable from a VRF's unreachable
// default) and answers to a CE pinging its PE-side address are routed by
// the main table. Where two VRFs share a CE subnet, the main table knows
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
