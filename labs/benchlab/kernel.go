package main

import "context"

// setupKernel is variant (a), the ceiling: each PE routes the remote CE
// subnet in clear over the core veth to the other PE. Same veths, same
// forwarding code in the kernel, no encryption and no trip to userspace.
func setupKernel(ctx context.Context, _ *environment, t *topology) (string, error) {
	for _, s := range []struct{ local, remote pe }{{t.pe1, t.pe2}, {t.pe2, t.pe1}} {
		if _, err := s.local.node.Exec(ctx, "ip", "route", "add", s.remote.ceNet.String(), "via", s.remote.core.String(), "dev", coreName); err != nil {
			return "", err
		}
	}
	return "plain IPv4 forwarding over the core veth", nil
}
