// Package soak is Peregrine's long run (`make soak`, SOAK=30m by default):
// the two-PE lab of labs/internal/pelab with IKE keys, under every kind of
// churn at once for SOAK, while each daemon's resources are sampled:
//
//	                gobgp (gobgpd): 10,000 VPNv4 routes added, then withdrawn,
//	                  │ 192.168.1.2   every 10 s (RT 65000:1, next hop pe2)
//	                  │ 192.168.1.1
//	ce-red-1  ──ce1┐  │                                ┌ce3── ce-red-2
//	               pe1 ══ core (ESP, IKEv2) ══ pe2
//	ce-blue-1 ──ce2┘  SIGHUP every minute:             └ce4── ce-blue-2
//	                  VRF green added / removed
//
// Meanwhile:
//
//   - ICMP echoes at 100/s from ce-red-1 and ce-blue-1 to the far CE
//     (10.2.0.2 in each VRF; Pinger, pinger.go), an echo without a reply
//     within 1 s lost and counted by the second it was sent; no loss
//     window is declared: the target is none lost;
//   - an iperf3 stream per VRF (rate-limited, so that the pings measure
//     the PEs and not a saturated queue);
//   - child SAs rekeyed every 30 s (soft lifetime; SOAK_CHILD_LIFETIME=3s
//     rekeys them that often instead), the IKE SA every 5 min;
//   - /metrics of both PEs (goroutines, open file descriptors, RSS, Go
//     heap, the process's start time) sampled every 10 s, and beside them,
//     to explain RSS and not judged (Explains, report.go), the Go
//     runtime's memory classes and threads from /metrics and the kernel's
//     resident pages by kind and threads from /proc/PID/smaps_rollup and
//     status (procmem.go); each PE's /proc/PID/smaps and the residency
//     of its heap per MiB from /proc/PID/pagemap (pagemap.go) are kept
//     from the start, the half and the end.
//
// It writes, into build/soak (SOAK_OUT), soak.csv (the samples),
// soak.png (their plot, with gnuplot), losses.csv (lost echoes per second)
// and summary.txt: lost pings, restarts of any daemon (a start time that
// changes or a process that exits), and each resource's least-squares
// slope over the second half, per hour, judged flat when its drift over
// that half is within twice the samples' noise about the line, then the
// same slope for each quantity that explains RSS.
//
// Reading what RSS is made of (issue 20, runs in notes s29/soakrss): RSS
// is smaps_anonymous plus the binary's file pages (status_rss_file,
// about 21 MiB, flat). go_resident (the runtime's mapped minus released)
// is what the runtime would have resident if it had touched every page;
// anon_not_go is anonymous minus that. The fast path's packet buffers
// (fib/userspace bufmem.go: 128 buffers of 64 KiB per socket reader, as
// many GRO copy buffers per ESP-in-UDP reader, and the TUN readers'
// batches) are anonymous mappings outside the Go heap, so they count in
// anon_not_go, and the kernel backs a page of them only when a datagram
// first reaches it. Longer UDP GRO runs and deeper batches, which come
// when the readers run late (a loaded machine), touch more of them, so
// RSS climbs in steps while the heap stays flat: smaps_anonymous and
// anon_not_go grow together, go_resident does not. That growth is
// bounded by the buffers' mapped size (about 50 MiB on a 2-CPU PE; in
// the notes s29/soakrss runs they were still heap objects, and
// anon_not_go started near -60 MiB instead); a sustained growth of
// anon_not_go beyond it, or of go_resident, is a leak.
// RSS falls when the scavenger or the Trimmer releases free spans
// (class_heap_released up, go_resident down).
//
// The code here is the run's bookkeeping (trend.go, report.go, flap.go,
// pinger.go, scrape.go); soak_test.go runs it. TestSoak skips unless SOAK is set.
package soak
