package fib_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
)

var (
	pfx   = netip.MustParsePrefix
	addr  = netip.MustParseAddr
	rd    = vpn.MustParseRD
	label = mpls.MustLabel
)

func labels(ls ...uint32) []mpls.Label {
	out := make([]mpls.Label, len(ls))
	for i, l := range ls {
		out[i] = label(l)
	}
	return out
}

// testKey is key material no output may contain: 16 bytes of AES key and
// a 4-byte salt, all distinctive.
var testKey = []byte{
	0xa7, 0x3c, 0x91, 0x5e, 0xd2, 0x08, 0x6b, 0xf4,
	0x1d, 0xe9, 0x77, 0xb0, 0x4a, 0xc5, 0x23, 0x9f,
	0x61, 0xba, 0x0e, 0xd8,
}

func sa(spi uint32) *fib.SAParams {
	return &fib.SAParams{SPI: spi, Cipher: esp.AES128GCM16, Key: slices.Clone(testKey), ReplayWindow: 64}
}

// startReconciler runs a Reconciler over a fake until the test ends.
func startReconciler(t *testing.T, opts fib.Options) (*fib.Reconciler, *fake.Backend) {
	t.Helper()
	fb := fake.New()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := fib.NewReconciler(fb, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		r.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r, fb
}

func flush(t *testing.T, r *fib.Reconciler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// diffLines describes how got differs from want, line by line ("" if
// equal): missing lines with "-", extra ones with "+", then order.
func diffLines(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	if b.Len() == 0 {
		fmt.Fprintf(&b, "same lines, different order or count:\nwant:\n  %s\ngot:\n  %s\n",
			strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
	return b.String()
}

// grep returns the lines containing every one of subs.
func grep(lines []string, subs ...string) []string {
	var out []string
next:
	for _, l := range lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// quietLogger drops the debug lines of tests that apply many times.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
