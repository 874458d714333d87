package bgp

import (
	"context"
	"strings"
	"sync"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// apiGuard stands between GoBGP's gRPC API and its clients, who are not
// authenticated: anyone who can reach the port is a client. Without
// bgp.api-write it lets through only the methods in readOnlyMethods (every
// other method, including any a later GoBGP adds, is refused with
// PermissionDenied); with it, every method. Either way it clears every
// password field of every response, unary and streamed: writing may be
// delegated, reading the TCP-MD5 secrets never is.
type apiGuard struct {
	write bool
	// probeToken marks the daemon's own start-up probe (see Speaker.probeAPI):
	// a call carrying it is answered by the guard itself, which proves that
	// the guarded server, not some other process, owns the address.
	probeToken string
	probed     chan struct{}
	probeOnce  sync.Once
}

// probeHeader is the metadata key of the start-up probe.
const probeHeader = "x-peregrine-probe"

// readOnlyMethods are the GobgpApi methods that change nothing. WatchEvent
// is among them: it streams the same peers and paths List* shows.
var readOnlyMethods = map[string]bool{
	"GetBgp": true, "WatchEvent": true,
	"ListPeer": true, "ListPeerGroup": true, "ListDynamicNeighbor": true,
	"ListPath": true, "GetTable": true, "ListVrf": true,
	"ListPolicy": true, "ListDefinedSet": true, "ListStatement": true, "ListPolicyAssignment": true,
	"ListRpki": true, "ListRpkiTable": true, "ListBmp": true,
}

func newAPIGuard(write bool, probeToken string) *apiGuard {
	return &apiGuard{write: write, probeToken: probeToken, probed: make(chan struct{})}
}

// serverOptions installs the guard on a gRPC server.
func (g *apiGuard) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(g.unary), grpc.ChainStreamInterceptor(g.stream)}
}

// allowed reports whether fullMethod ("/apipb.GobgpApi/ListPeer") may run.
func (g *apiGuard) allowed(fullMethod string) error {
	if g.write {
		return nil
	}
	service, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if ok && service == api.GobgpApi_ServiceDesc.ServiceName && readOnlyMethods[method] {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "%s: peregrined's BGP API is read-only (bgp.api-write is not set)", fullMethod)
}

func (g *apiGuard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if g.isProbe(ctx) {
		g.probeOnce.Do(func() { close(g.probed) })
		return &api.GetBgpResponse{}, nil
	}
	if err := g.allowed(info.FullMethod); err != nil {
		return nil, err
	}
	resp, err := handler(ctx, req)
	if m, ok := resp.(proto.Message); ok && m != nil {
		scrubSecrets(m.ProtoReflect())
	}
	return resp, err
}

func (g *apiGuard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := g.allowed(info.FullMethod); err != nil {
		return err
	}
	return handler(srv, scrubbingStream{ss})
}

func (g *apiGuard) isProbe(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(probeHeader)
	return g.probeToken != "" && len(v) == 1 && v[0] == g.probeToken
}

// scrubbingStream clears secrets from every message a streaming method sends.
type scrubbingStream struct{ grpc.ServerStream }

func (s scrubbingStream) SendMsg(m any) error {
	if pm, ok := m.(proto.Message); ok && pm != nil {
		scrubSecrets(pm.ProtoReflect())
	}
	return s.ServerStream.SendMsg(m)
}
