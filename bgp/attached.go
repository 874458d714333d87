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
//
// The VRF's own CEs on this PE are sent them too, as its static and
// connected prefixes are (cedefault.go: next hop self, the provider AS,
// each CE's export-prefixes and site of origin rules applied by the CE
// server's policy), and withdrawn with them.
func (s *Speaker) SetAttached(ctx context.Context, vrf string, prefixes []netip.Prefix) error {
	return s.do(func() error {
		old := s.org.attached[vrf]
		if len(prefixes) == 0 {
			delete(s.org.attached, vrf)
		} else {
			s.org.attached[vrf] = slices.Clone(prefixes)
		}
		for i := range s.cfg.VRFs {
			if v := &s.cfg.VRFs[i]; v.Name == vrf {
				if err := s.org.sync(ctx, vrf, v, s.connected[vrf]); err != nil {
					return err
				}
				return s.ceSendChanged(ctx, vrf, old, prefixes)
			}
		}
		return nil
	})
}
