package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-net/peregrine/fib"
)

// What arrives from the core before its label names a VRF (fib.Stats'
// Inbound, UnknownSPI, Truncated, IKE and Keepalives): a core host
// spraying bad labels or unknown SPIs shows here and in no VRF's
// counters. Labels are reasons and kinds only, never addresses, so the
// series stay few whatever the core sends. The plain MPLS frames
// received are peregrine_plain_mpls_frames_total (metrics.go).
var (
	descCoreDrops = prometheus.NewDesc("peregrine_core_drops_total",
		"Packets from the core dropped before their label named a VRF, by reason (unknown-label includes a label stack deeper than expected).",
		[]string{"reason"}, nil)
	descCoreOpenFailed = prometheus.NewDesc("peregrine_core_open_failed_total",
		"Core drops of reason open-failed whose cause is known: unknown-spi (no inbound ESP or AH SA has the SPI) or truncated (too short to carry an SPI).",
		[]string{"cause"}, nil)
	descCorePackets = prometheus.NewDesc("peregrine_core_packets_total",
		"Non-ESP datagrams received on UDP port 4500: IKE messages (handed to the IKE runner, or dropped without one) and NAT-keepalives (ignored).",
		[]string{"kind"}, nil)
)

var coreDescs = []*prometheus.Desc{descCoreDrops, descCoreOpenFailed, descCorePackets}

// countsCore reports whether st's core-side counters are the backend's
// own: the userspace fast path's (it has VRF TUNs) or the kernel
// backend's ESP gateway's (it has devices). The kernel backend without a
// gateway receives nothing itself; its zeros would claim a count the
// kernel keeps (`ip -s xfrm`, `ip -s link`).
func countsCore(st fib.Stats) bool { return st.VRFs != nil || st.Devices != nil }

// collectCore exports every drop reason, zero or not, so that a rate
// over a reason exists before its first drop.
func collectCore(st fib.Stats, counter func(*prometheus.Desc, uint64, ...string)) {
	if !countsCore(st) {
		return
	}
	st.Inbound.Each(func(reason string, n uint64) { counter(descCoreDrops, n, reason) })
	counter(descCoreOpenFailed, st.UnknownSPI, "unknown-spi")
	counter(descCoreOpenFailed, st.Truncated, "truncated")
	counter(descCorePackets, st.IKE, "ike")
	counter(descCorePackets, st.Keepalives, "keepalive")
}
