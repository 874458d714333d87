package bgp

// GoBGP's gRPC API through the guard, driven by GoBGP's own client (what
// the stock gobgp CLI uses), against a speaker with a TCP-MD5 neighbor:
//
//	test (api.GobgpApiClient) --gRPC--> 127.0.0.1:PORT  guard -> GoBGP
//	                                     neighbor 127.0.0.9 (password from env)

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

const apiTestPassword = "Md5-Api-Guard-Secret"

func apiSpeaker(t *testing.T, extra string) (*Speaker, api.GobgpApiClient) {
	t.Helper()
	t.Setenv("PG_APIGUARD_MD5", apiTestPassword)
	port := freePort(t, "127.0.0.1")
	cfg, err := parseConfig([]byte(fmt.Sprintf(`
router: {id: 192.0.2.1, asn: 65000}
bgp:
  listen-port: 0
  api: '127.0.0.1:%d'
  %s
  neighbors: [{address: 127.0.0.9, asn: 65000, password-env: PG_APIGUARD_MD5, connect-retry: 60s}]
`, port, extra)))
	if err != nil {
		t.Fatal(err)
	}
	s := startSpeaker(t, cfg)
	conn, err := grpc.Dial(cfg.API.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return s, api.NewGobgpApiClient(conn)
}

// listPeers reads ListPeer (a server stream) whole.
func listPeers(t *testing.T, c api.GobgpApiClient) []*api.Peer {
	t.Helper()
	stream, err := c.ListPeer(context.Background(), &api.ListPeerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*api.Peer
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("ListPeer: %v", err)
		}
		out = append(out, r.Peer)
	}
}

func ipv4Path(t *testing.T, prefix string, plen uint32) *api.Path {
	t.Helper()
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: prefix, PrefixLen: plen})
	if err != nil {
		t.Fatal(err)
	}
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0})
	nh, _ := anypb.New(&api.NextHopAttribute{NextHop: "192.0.2.1"})
	return &api.Path{Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh}}
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: %v (code %v), want code %v", what, err, got, want)
	}
}

// mutate tries the most harmful writes: inject a path, delete a peer,
// make the daemon write a file (EnableMrt), and a streamed injection.
func mutate(t *testing.T, c api.GobgpApiClient, mrtFile string) (addPath, deletePeer, enableMrt, addPathStream error) {
	ctx := context.Background()
	_, addPath = c.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: ipv4Path(t, "10.99.0.0", 24)})
	_, enableMrt = c.EnableMrt(ctx, &api.EnableMrtRequest{Type: api.EnableMrtRequest_TABLE, Filename: mrtFile, DumpInterval: 60})
	stream, err := c.AddPathStream(ctx)
	if err == nil {
		if err = stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: []*api.Path{ipv4Path(t, "10.98.0.0", 24)}}); err == nil || errors.Is(err, io.EOF) {
			_, err = stream.CloseAndRecv()
		}
	}
	addPathStream = err
	_, deletePeer = c.DeletePeer(ctx, &api.DeletePeerRequest{Address: "127.0.0.9"})
	return
}

func TestAPIReadOnlyByDefaultAndNoPasswords(t *testing.T) {
	if testing.Short() {
		t.Skip("serves gRPC on loopback")
	}
	s, c := apiSpeaker(t, "")
	writable := *s.Config()
	writable.APIWrite = true
	if err := s.Reload(context.Background(), &writable); err == nil || !strings.Contains(err.Error(), "api-write") || !strings.Contains(err.Error(), "needs a restart") {
		t.Errorf("reload turning on api-write: %v, want refused as needing a restart", err)
	}
	peers := listPeers(t, c)
	if len(peers) != 1 || peers[0].GetConf().GetNeighborAddress() != "127.0.0.9" {
		t.Fatalf("ListPeer = %v, want neighbor 127.0.0.9", peers)
	}
	if pw := peers[0].GetConf().GetAuthPassword(); pw != "" {
		t.Errorf("ListPeer shows the neighbor's password %q", pw)
	}
	if _, err := c.GetBgp(context.Background(), &api.GetBgpRequest{}); err != nil {
		t.Errorf("GetBgp (read-only) refused: %v", err)
	}

	mrt := filepath.Join(t.TempDir(), "dump.mrt")
	addPath, deletePeer, enableMrt, addPathStream := mutate(t, c, mrt)
	wantCode(t, "AddPath", addPath, codes.PermissionDenied)
	wantCode(t, "DeletePeer", deletePeer, codes.PermissionDenied)
	wantCode(t, "EnableMrt", enableMrt, codes.PermissionDenied)
	wantCode(t, "AddPathStream", addPathStream, codes.PermissionDenied)
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(mrt); err == nil {
		t.Errorf("EnableMrt created %s", mrt)
	}
	if n := len(listPeers(t, c)); n != 1 {
		t.Errorf("after a refused DeletePeer: %d peers, want 1", n)
	}
	var paths int
	stream, err := c.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
		Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
		paths++
	}
	if paths != 0 {
		t.Errorf("after refused AddPaths the global IPv4 table holds %d destinations", paths)
	}
}

func TestAPIWriteAllowsChangesButStillHidesPasswords(t *testing.T) {
	if testing.Short() {
		t.Skip("serves gRPC on loopback")
	}
	_, c := apiSpeaker(t, "api-write: true")
	mrt := filepath.Join(t.TempDir(), "dump.mrt")
	peers := listPeers(t, c)
	if len(peers) != 1 || peers[0].GetConf().GetAuthPassword() != "" {
		t.Fatalf("ListPeer with api-write = %v, want one peer and no password", peers)
	}
	addPath, deletePeer, enableMrt, addPathStream := mutate(t, c, mrt)
	for name, err := range map[string]error{"AddPath": addPath, "DeletePeer": deletePeer, "EnableMrt": enableMrt, "AddPathStream": addPathStream} {
		if err != nil {
			t.Errorf("%s with api-write: %v", name, err)
		}
	}
	if n := len(listPeers(t, c)); n != 0 {
		t.Errorf("after DeletePeer with api-write: %d peers, want 0", n)
	}
}

// TestAPIAddressInUse: a taken bgp.api port fails Start with an error that
// names bgp.api and the address, rather than a log line and no API.
func TestAPIAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	defer l.Close()
	cfg, err := parseConfig([]byte(fmt.Sprintf("router: {id: 192.0.2.1, asn: 65000}\nbgp: {listen-port: 0, api: '%s'}\n", l.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 16)
	s, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler), events)
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded on a bgp.api port already in use")
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "bgp.api "+l.Addr().String()+": ") || !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q: want an *APIError naming bgp.api %s and saying it is in use", err, l.Addr())
	}
}

// TestAPIGuardMethodClasses checks the allow-list against GoBGP's own
// service description: every method it lets through without api-write
// reads (List*, Get*, WatchEvent), and every other method is refused.
func TestAPIGuardMethodClasses(t *testing.T) {
	g := newAPIGuard(false, "")
	var names []string
	for _, m := range api.GobgpApi_ServiceDesc.Methods {
		names = append(names, m.MethodName)
	}
	for _, s := range api.GobgpApi_ServiceDesc.Streams {
		names = append(names, s.StreamName)
	}
	allowed := 0
	for _, n := range names {
		full := "/" + api.GobgpApi_ServiceDesc.ServiceName + "/" + n
		reads := strings.HasPrefix(n, "List") || strings.HasPrefix(n, "Get") || n == "WatchEvent"
		err := g.allowed(full)
		if reads != (err == nil) {
			t.Errorf("%s: allowed = %v, want %v", full, err == nil, reads)
		}
		if err == nil {
			allowed++
		}
		if newAPIGuard(true, "").allowed(full) != nil {
			t.Errorf("%s refused with api-write", full)
		}
	}
	if allowed != len(readOnlyMethods) {
		t.Errorf("%d methods allowed, readOnlyMethods lists %d: a name there is not GoBGP's", allowed, len(readOnlyMethods))
	}
	for _, full := range []string{"/apipb.GobgpApi/Unknown", "/other.Service/ListPeer", "ListPeer", ""} {
		if g.allowed(full) == nil {
			t.Errorf("%q allowed", full)
		}
	}
}

// TestAPIGuardScrubsUnaryAndNested: the unary path and every place a
// password sits in GoBGP's API (peer, peer group, WatchEvent's peer).
func TestAPIGuardScrubsUnaryAndNested(t *testing.T) {
	g := newAPIGuard(true, "")
	resps := []any{
		&api.ListPeerResponse{Peer: &api.Peer{Conf: &api.PeerConf{NeighborAddress: "192.0.2.9", AuthPassword: apiTestPassword}}},
		&api.ListPeerGroupResponse{PeerGroup: &api.PeerGroup{Conf: &api.PeerGroupConf{PeerGroupName: "g", AuthPassword: apiTestPassword}}},
		&api.WatchEventResponse{Event: &api.WatchEventResponse_Peer{Peer: &api.WatchEventResponse_PeerEvent{
			Peer: &api.Peer{Conf: &api.PeerConf{AuthPassword: apiTestPassword}}}}},
	}
	for _, r := range resps {
		got, err := g.unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/apipb.GobgpApi/X"},
			func(context.Context, any) (any, error) { return r, nil })
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(got); strings.Contains(s, apiTestPassword) {
			t.Errorf("unary response keeps the password: %s", s)
		}
	}
	if p := resps[0].(*api.ListPeerResponse).Peer.Conf.NeighborAddress; p != "192.0.2.9" {
		t.Errorf("scrub cleared a field that is no secret: neighbor address %q", p)
	}
}
