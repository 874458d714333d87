package bgp

import (
	"context"
	"net/netip"
	"slices"
)

// SetAttached replaces the site prefixes of a VRF's IPsec attachments
// that are up (have a child SA): they are exported as VPN routes of the
// VRF with its label, as static routes are, and withdrawn when the
// attachment goes down (nil or empty prefixes), so that other PEs stop
// sending traffic this PE could only drop. A VRF that is not configured
// keeps them until it is.
func (s *Speaker) SetAttached(ctx context.Context, vrf string, prefixes []netip.Prefix) error {
	return s.do(func() error {
		if len(prefixes) == 0 {
			delete(s.org.attached, vrf)
		} else {
			s.org.attached[vrf] = slices.Clone(prefixes)
		}
		for i := range s.cfg.VRFs {
			if v := &s.cfg.VRFs[i]; v.Name == vrf {
				return s.org.sync(ctx, vrf, v, s.connected[vrf])
			}
		}
		return nil
	})
}
