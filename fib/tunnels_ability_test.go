package fib

import (
	"context"
	"testing"
)

// plainBackend has no optional abilities.
type plainBackend struct{}

func (plainBackend) Apply(context.Context, *State) error { return nil }
func (plainBackend) Close() error                        { return nil }

// carrierBackend answers TunnelCarrier with its value.
type carrierBackend struct {
	plainBackend
	carries bool
}

func (b carrierBackend) CarriesTunnels() bool { return b.carries }

// TestCarriesTunnelsFailsClosed: only a backend that says it carries
// tunnels does; one that does not implement TunnelCarrier, and no
// backend at all, do not.
func TestCarriesTunnelsFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Backend
		want bool
	}{
		{"says yes", carrierBackend{carries: true}, true},
		{"says no", carrierBackend{carries: false}, false},
		{"does not say", plainBackend{}, false},
		{"nil", nil, false},
	} {
		if got := CarriesTunnels(tc.b); got != tc.want {
			t.Errorf("%s: CarriesTunnels = %v, want %v", tc.name, got, tc.want)
		}
	}
}
