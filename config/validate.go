package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// maxLabel is the largest 20-bit MPLS label; firstUnreservedLabel follows the
// reserved range 0-15.
const (
	maxLabel             = 1<<20 - 1
	firstUnreservedLabel = 16
)

// badFunc records one FieldError.
type badFunc func(path, value string, format string, args ...any)

// Validate checks the values that decoding alone cannot: required fields,
// ranges, and how fields relate to each other.
func (c *Config) Validate() Errors {
	var errs Errors
	bad := func(path, value string, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	switch {
	case !c.Router.ID.IsValid():
		bad("router.id", "", "required: this PE's router ID, an IPv4 address such as 192.0.2.1")
	case !c.Router.ID.Is4():
		bad("router.id", c.Router.ID.String(), "must be an IPv4 address")
	case c.Router.ID.IsUnspecified():
		bad("router.id", c.Router.ID.String(), "must not be 0.0.0.0")
	}
	if c.Router.ASN == 0 {
		bad("router.asn", "", "required: this PE's AS number, 1..4294967295")
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", strconv.Quote(c.Log.Level), "want debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", strconv.Quote(c.Log.Format), "want text or json")
	}

	m := c.MPLS
	if m.LabelMin < firstUnreservedLabel || m.LabelMin > maxLabel {
		bad("mpls.label-min", fmt.Sprint(m.LabelMin), "must be %d..%d (0-15 are reserved)", firstUnreservedLabel, maxLabel)
	}
	if m.LabelMax < firstUnreservedLabel || m.LabelMax > maxLabel {
		bad("mpls.label-max", fmt.Sprint(m.LabelMax), "must be %d..%d (0-15 are reserved)", firstUnreservedLabel, maxLabel)
	} else if m.LabelMax < m.LabelMin {
		bad("mpls.label-max", fmt.Sprint(m.LabelMax), "must not be below mpls.label-min (%d)", m.LabelMin)
	}
	c.validateLabelHoldDown(bad)
	switch m.TTLMode {
	case "uniform", "pipe":
	default:
		bad("mpls.ttl-mode", strconv.Quote(m.TTLMode), "want uniform or pipe (RFC 3443)")
	}
	c.validateBGP(bad)
	c.validateVRFs(bad)
	c.validateIPsec(bad)
	c.validateIKE(bad)
	c.validateUnprotected(bad)
	switch c.Dataplane.Backend {
	case "auto", "userspace", "kernel", "none":
	default:
		bad("dataplane.backend", strconv.Quote(c.Dataplane.Backend), "want auto, userspace, kernel or none")
	}
	if l := c.Metrics.Listen; l != "" {
		host, port, err := net.SplitHostPort(l)
		if p, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || p == 0 {
			bad("metrics.listen", strconv.Quote(l), "want HOST:PORT, such as 127.0.0.1:9963 or [::1]:9963")
		} else if _, aerr := netip.ParseAddr(host); host != "" && aerr != nil {
			bad("metrics.listen", strconv.Quote(l), "the host must be an IP address (or empty for every address)")
		}
	}
	switch c.Dataplane.KernelESP {
	case "auto", "off":
	default:
		bad("dataplane.kernel-esp", strconv.Quote(c.Dataplane.KernelESP), "want auto or off")
	}
	if m := c.Dataplane.MTU; m != 0 && (m < 576 || m > 9000) {
		bad("dataplane.mtu", strconv.Itoa(m), "must be 576..9000, or 0 for the default")
	}
	return errs
}
