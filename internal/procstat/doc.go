// Package procstat reads what a Linux process costs, for the benchmarks:
// its CPU time from /proc/PID/stat, its resident memory and thread count
// from /proc/PID/status, and the Go runtime's own figures from the
// Prometheus text its /metrics serves.
//
// labs/scalebench, labs/benchlab and fib/kernel's VM scale benchmark
// share it. The last runs inside the VM as a test binary of fib/kernel,
// outside labs/, which is why this package is not under labs/internal.
//
// The parsers take bytes and never panic: what they cannot read is an
// error (or, for /metrics, a line left out), not a wrong figure.
package procstat
