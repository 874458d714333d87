package config

// DefaultLabelHoldDown is mpls.label-hold-down's default: the time a
// remote PE keeps this PE's routes through a graceful restart with the
// default timers (restart time, then stale routes until End-of-RIB).
const DefaultLabelHoldDown = DefaultGRRestartTime + DefaultGRStaleTime

func (c *Config) validateLabelHoldDown(bad badFunc) {
	if d := c.MPLS.LabelHoldDown; d < 0 {
		bad("mpls.label-hold-down", d.String(), "must not be negative")
	}
}
