package config

import "time"

// DefaultLabelHoldDown is mpls.label-hold-down's default: at least the
// time a remote PE keeps this PE's routes through a graceful restart
// (restart time, then stale routes until End-of-RIB; GoBGP defers its
// own End-of-RIB up to 360 s).
const DefaultLabelHoldDown = 360 * time.Second

func (c *Config) validateLabelHoldDown(bad badFunc) {
	if d := c.MPLS.LabelHoldDown; d < 0 {
		bad("mpls.label-hold-down", d.String(), "must not be negative")
	}
}
