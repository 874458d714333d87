package soak

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Flapper adds and withdraws a gobgpd's VPNv4 routes through its gRPC API:
// all of them in AddPathStream messages of flapBatch paths, then all
// withdrawn with one DeletePath.
type Flapper struct {
	conn  *grpc.ClientConn
	api   api.GobgpApiClient
	paths [][]*api.Path
}

const flapBatch = 1000

var vpnv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}

// FlapPrefix is the i-th flapped prefix: /24s from 100.64.0.0 (RFC 6598
// shared space, 16,384 of them), clear of the lab's CE subnets in 10/8.
// (labs/bgpbench's generator starts at 10.0.0.0/24, which would compete
// with the CE routes in red.)
func FlapPrefix(i int) netip.Prefix {
	if i < 0 || i >= 1<<14 {
		panic(fmt.Sprintf("FlapPrefix(%d): out of range", i))
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(64 + i>>8), byte(i), 0}), 24)
}

// FlapRoutes describes the flapped routes.
type FlapRoutes struct {
	N       int        // how many, at most 16,384
	RD      [2]uint32  // type 0: ASN, number
	RT      [2]uint32  // two-octet AS specific: ASN, value
	NextHop netip.Addr // IPv4
}

// NewFlapper connects to a gobgpd's gRPC API on the Unix socket sock
// (peers.GoBGPConfig.APISocket) and builds the paths of r once.
func NewFlapper(sock string, r FlapRoutes) (*Flapper, error) {
	if r.N < 1 || r.N > 1<<14 || !r.NextHop.Is4() {
		return nil, fmt.Errorf("flap routes: %d routes (want 1..16384), next hop %v (want IPv4)", r.N, r.NextHop)
	}
	conn, err := grpc.Dial("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gobgpd API %s: %w", sock, err)
	}
	return &Flapper{conn: conn, api: api.NewGobgpApiClient(conn), paths: buildFlapPaths(r)}, nil
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err) // only for registered message types, which these are
	}
	return a
}

// buildFlapPaths returns r's paths in batches of flapBatch; the shared
// attributes are shared (proto messages are only read when marshalled).
func buildFlapPaths(r FlapRoutes) [][]*api.Path {
	rd := mustAny(&api.RouteDistinguisherTwoOctetASN{Admin: r.RD[0], Assigned: r.RD[1]})
	origin := mustAny(&api.OriginAttribute{Origin: 0})
	ext := mustAny(&api.ExtendedCommunitiesAttribute{Communities: []*anypb.Any{
		mustAny(&api.TwoOctetAsSpecificExtended{IsTransitive: true, SubType: 0x02, Asn: r.RT[0], LocalAdmin: r.RT[1]}),
	}})
	nh := []string{r.NextHop.String()}
	var out [][]*api.Path
	for start := 0; start < r.N; start += flapBatch {
		b := make([]*api.Path, 0, flapBatch)
		for i := start; i < min(start+flapBatch, r.N); i++ {
			p := FlapPrefix(i)
			nlri := mustAny(&api.LabeledVPNIPAddressPrefix{
				Labels: []uint32{100 + uint32(i%1000)}, Rd: rd,
				PrefixLen: uint32(p.Bits()), Prefix: p.Addr().String(),
			})
			reach := mustAny(&api.MpReachNLRIAttribute{Family: vpnv4, NextHops: nh, Nlris: []*anypb.Any{nlri}})
			b = append(b, &api.Path{Family: vpnv4, Nlri: nlri, Pattrs: []*anypb.Any{origin, reach, ext}})
		}
		out = append(out, b)
	}
	return out
}

// Add originates every route.
func (f *Flapper) Add(ctx context.Context) error {
	stream, err := f.api.AddPathStream(ctx)
	if err != nil {
		return fmt.Errorf("AddPathStream: %w", err)
	}
	for _, b := range f.paths {
		if err := stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: b}); err != nil {
			_, rerr := stream.CloseAndRecv()
			return fmt.Errorf("AddPathStream: %w (%v)", err, rerr)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("AddPathStream: %w", err)
	}
	return nil
}

// Withdraw withdraws every VPNv4 route the gobgpd originated.
func (f *Flapper) Withdraw(ctx context.Context) error {
	if _, err := f.api.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: vpnv4}); err != nil {
		return fmt.Errorf("DeletePath: %w", err)
	}
	return nil
}

// Close closes the connection.
func (f *Flapper) Close() error { return f.conn.Close() }
