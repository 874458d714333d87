package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peregrine-net/peregrine/bgp"
)

// Prometheus metrics. A collector reads the current state on each scrape
// (BGP sessions from GoBGP, routes from the speaker, FIB sizes from the
// reconciler's State, packet counters from the backend), so the packet path
// does no work for metrics beyond the atomic counters it keeps anyway.
// client_golang gives the exposition format, its escaping and content
// negotiation, and a registry that checks every metric's labels; hand-
// written text would get those wrong sooner or later.

var (
	descSessionUp = prometheus.NewDesc("peregrine_bgp_session_up",
		"1 if the BGP session to the neighbor is established.", []string{"neighbor", "description"}, nil)
	descPrefixes = prometheus.NewDesc("peregrine_bgp_prefixes",
		"Prefixes per neighbor and family: received, accepted (after policy) or sent.", []string{"neighbor", "family", "kind"}, nil)
	descVRFRoutes = prometheus.NewDesc("peregrine_vrf_routes",
		"Routes per VRF: imported from remote PEs or originated here (local).", []string{"vrf", "origin"}, nil)
	descFIBRoutes = prometheus.NewDesc("peregrine_fib_routes",
		"Routes per VRF in the forwarding state.", []string{"vrf"}, nil)
	descFIBLabels = prometheus.NewDesc("peregrine_fib_labels",
		"Local labels in the forwarding state (LFIB entries).", nil, nil)
	descFIBTunnels = prometheus.NewDesc("peregrine_fib_tunnels",
		"Tunnels to remote PEs in the forwarding state.", nil, nil)
	descSAPackets = prometheus.NewDesc("peregrine_ipsec_sa_packets_total",
		"Packets sealed (out) or opened (in) by an SA.", []string{"remote", "direction", "spi"}, nil)
	descSABytes = prometheus.NewDesc("peregrine_ipsec_sa_bytes_total",
		"Bytes sealed (out) or opened (in) by an SA.", []string{"remote", "direction", "spi"}, nil)
	descSADrops = prometheus.NewDesc("peregrine_ipsec_sa_drops_total",
		"Packets an SA refused, by reason.", []string{"remote", "direction", "spi", "reason"}, nil)
	descVRFPackets = prometheus.NewDesc("peregrine_vrf_packets_total",
		"Packets the fast path forwarded for a VRF: out is CE to core, in is core to CE.", []string{"vrf", "direction"}, nil)
	descVRFBytes = prometheus.NewDesc("peregrine_vrf_bytes_total",
		"Inner IP bytes the fast path forwarded for a VRF.", []string{"vrf", "direction"}, nil)
	descVRFDrops = prometheus.NewDesc("peregrine_vrf_drops_total",
		"Packets the fast path dropped for a VRF, by reason.", []string{"vrf", "direction", "reason"}, nil)
	descRemotePE = prometheus.NewDesc("peregrine_remote_pe_protection",
		"1 for each remote PE that VRF routes lead to, labelled with how its traffic leaves: protected (ESP), unprotected (plain MPLS) or none (dropped).",
		[]string{"remote", "protection"}, nil)
	descAttachUp = prometheus.NewDesc("peregrine_ipsec_attachment_up",
		"1 while an IPsec attachment has a child SA (its site prefixes are routed and exported), else 0.", []string{"attachment", "vrf"}, nil)
	descAttachPackets = prometheus.NewDesc("peregrine_ipsec_attachment_packets_total",
		"Packets from a site's gateway into its VRF (in) and from the VRF to the site (out).", []string{"attachment", "vrf", "direction"}, nil)
	descAttachBytes = prometheus.NewDesc("peregrine_ipsec_attachment_bytes_total",
		"Inner IP bytes from a site's gateway into its VRF (in) and from the VRF to the site (out).", []string{"attachment", "vrf", "direction"}, nil)
	descAttachDrops = prometheus.NewDesc("peregrine_ipsec_attachment_drops_total",
		"Packets of an IPsec attachment dropped, by reason (ts-violation: outside the SA's traffic selectors).", []string{"attachment", "vrf", "reason"}, nil)
	descPlainIn = prometheus.NewDesc("peregrine_plain_mpls_frames_total",
		"MPLS frames the userspace fast path received on its core interfaces (plain MPLS from unprotected PEs).", nil, nil)
)

// collector is the daemon's prometheus.Collector.
type collector struct {
	speaker *bgp.Speaker
	ce      ceSessions // nil: no CE metrics
	dp      *dataplane // fib nil without a dataplane
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessionUp, descPrefixes, descVRFRoutes, descFIBRoutes, descFIBLabels,
		descFIBTunnels, descSAPackets, descSABytes, descSADrops, descVRFPackets, descVRFBytes, descVRFDrops,
		descRemotePE, descPlainIn, descAttachUp, descAttachPackets, descAttachBytes, descAttachDrops} {
		ch <- d
	}
	for _, d := range ceDescs {
		ch <- d
	}
	for _, d := range coreDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if c.speaker != nil {
		c.collectBGP(gauge)
	}
	if c.ce != nil {
		c.collectCE(gauge, counter)
	}
	c.collectDataplane(gauge, counter)
}

func (c *collector) collectBGP(gauge func(*prometheus.Desc, float64, ...string)) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns, _ := c.speaker.Neighbors(ctx, false)
	for _, n := range ns {
		addr := n.Address.String()
		up := 0.0
		if n.State == "established" {
			up = 1
		}
		gauge(descSessionUp, up, addr, n.Description)
		for _, f := range n.Families {
			gauge(descPrefixes, float64(f.Received), addr, f.Name, "received")
			gauge(descPrefixes, float64(f.Accepted), addr, f.Name, "accepted")
			gauge(descPrefixes, float64(f.Sent), addr, f.Name, "sent")
		}
	}
	imported, local, err := c.speaker.VRFRouteCounts()
	for _, v := range c.speaker.Config().VRFs {
		if n, ok := imported[v.Name]; err == nil && ok {
			gauge(descVRFRoutes, float64(n), v.Name, "imported")
		}
		if err == nil {
			gauge(descVRFRoutes, float64(local[v.Name]), v.Name, "local")
		}
	}
}

func (c *collector) collectDataplane(gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	dp := c.dp
	if dp == nil || dp.fib == nil {
		return
	}
	if s := dp.fib.State(); s != nil {
		for name, v := range s.VRFs {
			gauge(descFIBRoutes, float64(len(v.Routes)), name)
		}
		gauge(descFIBLabels, float64(len(s.Labels)))
		gauge(descFIBTunnels, float64(len(s.Tunnels)))
	}
	for _, pe := range dp.remotePEs("") {
		gauge(descRemotePE, 1, pe.addr.String(), pe.protection)
	}
	for _, sa := range dp.saDocs() {
		spi := fmt.Sprintf("0x%08x", sa.SPI)
		remote := sa.Remote.String()
		counter(descSAPackets, sa.Packets, remote, sa.Direction, spi)
		counter(descSABytes, sa.Bytes, remote, sa.Direction, spi)
		for reason, n := range sa.Drops {
			counter(descSADrops, n, remote, sa.Direction, spi, reason)
		}
	}
	for _, a := range dp.attachmentDocs() {
		up := 0.0
		if a.State == "up" {
			up = 1
		}
		gauge(descAttachUp, up, a.Name, a.VRF)
		counter(descAttachPackets, a.InPackets, a.Name, a.VRF, "in")
		counter(descAttachPackets, a.OutPackets, a.Name, a.VRF, "out")
		counter(descAttachBytes, a.InBytes, a.Name, a.VRF, "in")
		counter(descAttachBytes, a.OutBytes, a.Name, a.VRF, "out")
		for reason, n := range a.Drops {
			counter(descAttachDrops, n, a.Name, a.VRF, reason)
		}
	}
	st, ok := dp.stats()
	if ok && st.VRFs != nil {
		counter(descPlainIn, st.PlainIn)
	}
	if ok {
		collectCore(st, counter)
	}
	for name, v := range vrfCounters(st) {
		counter(descVRFPackets, v.OutPackets, name, "out")
		counter(descVRFPackets, v.InPackets, name, "in")
		counter(descVRFBytes, v.OutBytes, name, "out")
		counter(descVRFBytes, v.InBytes, name, "in")
		for reason, n := range v.OutDrops {
			counter(descVRFDrops, n, name, "out", reason)
		}
		for reason, n := range v.InDrops {
			counter(descVRFDrops, n, name, "in", reason)
		}
	}
}

// startMetrics serves /metrics on addr until close.
func startMetrics(addr string, c *collector, log *slog.Logger) (*http.Server, error) {
	h, err := metricsHandler(c, log)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "error", err)
		}
	}()
	log.Info("metrics served", "address", l.Addr().String())
	return srv, nil
}

// runtimeMemoryMetrics are the runtime/metrics the Go collector exports
// beside its defaults: every class of memory the runtime has mapped
// (/memory/classes/..., as go_memory_classes_heap_objects_bytes,
// go_memory_classes_heap_released_bytes, ..., go_memory_classes_total_bytes)
// and the OS threads it owns (go_sched_threads_total_threads). They add
// up to what the runtime holds, so RSS beside them tells which part grows:
// live objects, free spans not yet returned, stacks, the runtime's
// metadata, or memory that is not Go's at all.
var runtimeMemoryMetrics = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/memory/classes/|^/sched/threads/total:threads$`)}

// metricsHandler is the exposition of c and of the Go runtime and the
// process: a PE's memory grows with its tables, and RSS beside the Go
// heap's live and free bytes tells a table's cost from garbage not yet
// returned to the kernel.
func metricsHandler(c *collector, log *slog.Logger) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	goCol := collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(runtimeMemoryMetrics))
	for _, col := range []prometheus.Collector{c, goCol, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}), nil
}
