package fib

// TunnelCarrier is an optional Backend ability, found by type assertion
// (use CarriesTunnels): whether Apply accepts a State with Tunnels, the
// ESP-protected traffic toward remote PEs. It is fixed when the backend is
// built: the kernel backend carries tunnels only with an ESP gateway
// (kernel.Options.ESP) and refuses such a State without one, since
// protected traffic must never leave in clear. The daemon asks before it
// accepts a reload that adds tunnels, so that a reload the backend would
// refuse (and with it every later change, as the State is applied whole)
// is turned down with "needs a restart" instead. It is kept out of
// Backend, like Counterer, so a backend need not answer; one that does not
// is taken not to carry tunnels.
type TunnelCarrier interface {
	// CarriesTunnels reports whether Apply accepts a State with
	// Tunnels. The answer does not change over the backend's life. It is
	// safe to call from any goroutine.
	CarriesTunnels() bool
}

// CarriesTunnels reports whether b answers TunnelCarrier with true. A
// backend that does not implement TunnelCarrier fails closed: false.
func CarriesTunnels(b Backend) bool {
	c, ok := b.(TunnelCarrier)
	return ok && c.CarriesTunnels()
}
