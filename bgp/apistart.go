package bgp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// APIError is a failure to serve GoBGP's gRPC API at bgp.api: the address
// is in use or cannot be bound. The daemon does not start without the API
// it was configured to serve.
type APIError struct {
	Addr netip.AddrPort
	Err  error
}

func (e *APIError) Error() string { return fmt.Sprintf("bgp.api %s: %v", e.Addr, e.Err) }
func (e *APIError) Unwrap() error { return e.Err }

// apiProbeTimeout bounds how long Start waits for GoBGP to serve the API.
const apiProbeTimeout = 10 * time.Second

// prepareAPI checks that the API's address can be bound and builds the
// guard. GoBGP binds the address itself and, if it cannot, only logs; so
// the address is tried here first, and probeAPI then confirms that the
// guarded server is the one answering on it.
func prepareAPI(addr netip.AddrPort, write bool) (*apiGuard, error) {
	l, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, &APIError{Addr: addr, Err: err}
	}
	if err := l.Close(); err != nil {
		return nil, &APIError{Addr: addr, Err: err}
	}
	var token [16]byte
	_, _ = rand.Read(token[:]) // crypto/rand.Read never fails (Go 1.24)
	return newAPIGuard(write, hex.EncodeToString(token[:])), nil
}

// probeAPI calls the API at addr with the guard's probe token until the
// guard answers. A process that took the address between prepareAPI and
// GoBGP's listen would answer without the guard seeing the token.
func probeAPI(ctx context.Context, addr netip.AddrPort, g *apiGuard) error {
	conn, err := grpc.Dial(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return &APIError{Addr: addr, Err: err}
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, apiProbeTimeout)
	defer cancel()
	client := api.NewGobgpApiClient(conn)
	for {
		cctx, ccancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, probeHeader, g.probeToken), time.Second)
		_, err := client.GetBgp(cctx, &api.GetBgpRequest{}, grpc.WaitForReady(true))
		ccancel()
		select {
		case <-g.probed:
			return nil
		default:
		}
		if err == nil {
			return &APIError{Addr: addr, Err: fmt.Errorf("another server answers on it")}
		}
		select {
		case <-ctx.Done():
			return &APIError{Addr: addr, Err: fmt.Errorf("GoBGP did not serve it within %v (see its log line): %w", apiProbeTimeout, err)}
		case <-time.After(50 * time.Millisecond):
		}
	}
}
