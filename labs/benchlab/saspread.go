package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// How the peregrine variants' traffic spread over their SAs: after a
// setup's iperf3 runs, pe1's outbound SAs with their packet counts, read
// from its control socket (GET /v1/ipsec/sa, cmd/internal/localapi's SA
// document). With per-resource SAs every pair should have carried some:
// the figure is only per-resource if it did.

// saCount is one SA's packet count.
type saCount struct {
	SPI       uint32 `json:"spi"`
	Direction string `json:"direction"` // "in" or "out"
	Packets   uint64 `json:"packets"`
}

// outboundSAs asks the peregrined listening on unix socket sock for its
// SAs and returns the outbound ones, by SPI.
func outboundSAs(ctx context.Context, sock string) ([]saCount, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://peregrined/v1/ipsec/sa", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/ipsec/sa: %s", resp.Status)
	}
	return parseOutboundSAs(b)
}

// parseOutboundSAs reads a /v1/ipsec/sa document and returns its
// outbound SAs sorted by SPI.
func parseOutboundSAs(b []byte) ([]saCount, error) {
	var all []saCount
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("/v1/ipsec/sa: %w", err)
	}
	out := slices.DeleteFunc(all, func(s saCount) bool { return s.Direction != "out" })
	slices.SortFunc(out, func(a, b saCount) int { return int(int64(a.SPI) - int64(b.SPI)) })
	return out, nil
}

// describeSAs is the report's "pe1 sealed" text: each outbound SA's SPI
// and packets.
func describeSAs(sas []saCount) string {
	var parts []string
	for _, s := range sas {
		parts = append(parts, fmt.Sprintf("%#x=%d", s.SPI, s.Packets))
	}
	return strings.Join(parts, " ")
}
