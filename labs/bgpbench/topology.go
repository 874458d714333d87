package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The three speakers' addresses. Loopback only: the benchmark never sends a
// packet off the host.
var (
	addrA = netip.MustParseAddr("127.0.0.11") // source gobgpd
	addrP = netip.MustParseAddr("127.0.0.12") // peregrined
	addrB = netip.MustParseAddr("127.0.0.13") // reference gobgpd
)

const (
	asn      = 65000
	vrfName  = "bench"
	rtValue  = 100 // routes carry RT 65000:100, which the VRF imports
	rdNumber = 100 // and RD 65000:100
)

// topology is the running A, P and B.
type topology struct {
	dir           string
	port, apiPort int
	pprofPort     int      // if not 0, both gobgpd serve pprof on it
	dataplane     string   // P's dataplane.backend
	peEnv         []string // added to peregrined's environment
	procs         procs

	a, b   *gobgp
	field  []*fieldDaemon // FRR, BIRD: further receivers, if installed
	p      *proc          // nil in -profile mode, where P runs in this process
	pe     counter        // P's VRF
	peRIB  counter        // P's GoBGP RIB, through its gRPC API
	pePID  int            // for /proc; this process in -profile mode
	conns  []*grpc.ClientConn
	closer []func()
}

// gobgp is a running gobgpd and its gRPC client.
type gobgp struct {
	proc *proc
	api  api.GobgpApiClient
	// stats is where it serves pprof and Prometheus metrics (host:port),
	// "" if it does not serve metrics.
	stats string
}

func (t *topology) close() {
	for i := len(t.closer) - 1; i >= 0; i-- {
		t.closer[i]()
	}
	t.procs.stopAll()
	for _, c := range t.conns {
		_ = c.Close()
	}
}

// checkFree fails if anything already listens where the benchmark will, so
// that a leftover daemon is reported rather than silently measured.
func checkFree(addrs ...string) error {
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("%s is not free (another benchmark or daemon?): %w", a, err)
		}
		_ = l.Close()
	}
	return nil
}

func hostPort(a netip.Addr, port int) string {
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// gobgpdConf is a gobgpd configuration listening on self:port with the
// given iBGP VPNv4 neighbors. With hold, the global export policy rejects
// every route until releaseRoutes lifts it.
func gobgpdConf(self netip.Addr, port int, passive, hold bool, neighbors ...netip.Addr) string {
	s := gobgpdGlobal(self, asn, port)
	if hold {
		s += holdRoutes
	}
	for _, n := range neighbors {
		s += "\n" + gobgpdNeighbor(gobgpdPeer{addr: n, as: asn, local: self, port: port, passive: passive, family: "l3vpn-ipv4-unicast"})
	}
	return s
}

// gobgpdGlobal is a gobgpd configuration's [global.config]: AS as,
// listening on self:port, self also its router ID.
func gobgpdGlobal(self netip.Addr, as, port int) string {
	return fmt.Sprintf("[global.config]\n  as = %d\n  router-id = %q\n  port = %d\n  local-address-list = [%q]\n", as, self, port, self)
}

// holdRoutes makes gobgpd's global export policy reject every route until
// releaseRoutes lifts it.
const holdRoutes = "[global.apply-policy.config]\n  default-export-policy = \"reject-route\"\n"

// gobgpdPeer is one [[neighbors]] entry of a benchmark gobgpd: every
// session has the same timers and one address family.
type gobgpdPeer struct {
	addr, local netip.Addr
	as, port    int
	passive     bool
	family      string
	// conf goes into [neighbors.config] (a VRF, say), extra before the
	// address family (route reflection, say); each line-terminated.
	conf, extra string
}

func gobgpdNeighbor(p gobgpdPeer) string {
	return fmt.Sprintf(`[[neighbors]]
  [neighbors.config]
    neighbor-address = %q
    peer-as = %d
%s  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 90
    keepalive-interval = 30
  [neighbors.transport.config]
    local-address = %q
    remote-port = %d
    passive-mode = %t
%s  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = %q
`, p.addr, p.as, p.conf, p.local, p.port, p.passive, p.extra, p.family)
}

// peregrinedConf is P's configuration: one passive iBGP VPNv4 session to A
// and one VRF importing the benchmark's route target. GoBGP's gRPC API is
// on, on P's own address, so that P's RIB can be counted as B's is. The
// dataplane backend is "none" for the control-plane measurement the
// benchmark is about (-dataplane userspace adds the FIB and the kernel
// routes of a whole PE).
func peregrinedConf(port, apiPort int, sock, backend string) string {
	return fmt.Sprintf(`router: {id: %s, asn: %d}
log: {level: warn}
dataplane: {backend: `+backend+`}
control: {socket: %s}
metrics: {listen: '%s'}
bgp:
  listen-address: %s
  listen-port: %d
  api: %s
  neighbors:
    - {address: %s, port: %d, asn: %d, families: [vpnv4], local-address: %s,
       passive: true, hold-time: 90s}
vrfs:
  - {name: %s, rd: '%d:1', import-targets: ['%d:%d'], export-targets: ['%d:1']}
`, addrP, asn, sock, hostPort(addrP, metricsPort(apiPort)), addrP, port, hostPort(addrP, apiPort), addrA, port, asn, addrP, vrfName, asn, asn, rtValue, asn)
}

// metricsPort is P's Prometheus port, beside its GoBGP API.
func metricsPort(apiPort int) int { return apiPort + 1 }

// writeDirFile writes name into dir, a subdirectory it creates.
func (t *topology) writeDirFile(dir, name, content string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(content), 0o600)
}

func (t *topology) writeFile(name, content string) (string, error) {
	path := filepath.Join(t.dir, name)
	return path, os.WriteFile(path, []byte(content), 0o600)
}

// startGoBGP starts gobgpd with conf and waits until its API answers.
// With metrics it also serves pprof and Prometheus metrics (on
// -gobgpd-pprof's port, else on metricsPort), so that its Go heap can be
// read as peregrined's is (readGoHeap after forceGC).
func (t *topology) startGoBGP(ctx context.Context, bin, name string, self netip.Addr, conf string, metrics bool) (*gobgp, error) {
	path, err := t.writeFile(name+".toml", conf)
	if err != nil {
		return nil, err
	}
	apiAddr := hostPort(self, t.apiPort)
	args := []string{"-f", path, "--config-strict", "-p", "-l", "warn", "--api-hosts", apiAddr}
	var stats string
	switch {
	case t.pprofPort != 0:
		stats = hostPort(self, t.pprofPort)
	case metrics:
		stats = hostPort(self, metricsPort(t.apiPort))
	}
	if stats != "" {
		args = append(args, "--pprof-host", stats)
	} else {
		args = append(args, "--pprof-disable")
	}
	if !metrics {
		args = append(args, "--metrics-path=")
		stats = ""
	}
	p, err := t.procs.start(name, filepath.Join(t.dir, name+".log"), nil, bin, args...)
	if err != nil {
		return nil, err
	}
	c, err := t.dial(apiAddr)
	if err != nil {
		return nil, err
	}
	g := &gobgp{proc: p, api: c, stats: stats}
	err = poll(ctx, 15*time.Second, p, func(ctx context.Context) (bool, error) {
		_, err := g.api.GetBgp(ctx, &api.GetBgpRequest{})
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s API at %s: %w", name, apiAddr, err)
	}
	return g, nil
}

// dial connects to a GoBGP gRPC API (lazily: errors come with the first
// call).
func (t *topology) dial(addr string) (api.GobgpApiClient, error) {
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	t.conns = append(t.conns, conn)
	return api.NewGobgpApiClient(conn), nil
}

// startPeregrined starts peregrined and waits until its local API answers.
func (t *topology) startPeregrined(ctx context.Context, bin string) error {
	sock := filepath.Join(t.dir, "peregrined.sock")
	path, err := t.writeFile("peregrined.yml", peregrinedConf(t.port, t.apiPort, sock, t.dataplane))
	if err != nil {
		return err
	}
	p, err := t.procs.start("peregrined", filepath.Join(t.dir, "peregrined.log"), t.peEnv, bin, "-c", path)
	if err != nil {
		return err
	}
	t.p, t.pePID = p, p.Pid()
	pe := newPeregrineClient(sock)
	t.pe = pe
	err = poll(ctx, 15*time.Second, p, func(ctx context.Context) (bool, error) {
		_, err := pe.count(ctx)
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("peregrined local API at %s: %w", sock, err)
	}
	return t.dialPeregrineRIB(ctx, p)
}

// dialPeregrineRIB connects to P's GoBGP API and waits until it answers.
func (t *topology) dialPeregrineRIB(ctx context.Context, p *proc) error {
	addr := hostPort(addrP, t.apiPort)
	c, err := t.dial(addr)
	if err != nil {
		return err
	}
	rib := gobgpCounter{c}
	t.peRIB = rib
	err = poll(ctx, 15*time.Second, p, func(ctx context.Context) (bool, error) {
		_, err := rib.count(ctx)
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("peregrine's GoBGP API at %s: %w", addr, err)
	}
	return nil
}

// releaseRoutes lets A advertise: the global export policy becomes accept
// and a soft reset out sends each peer A's whole table at once.
func releaseRoutes(ctx context.Context, a api.GobgpApiClient) error {
	_, err := a.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_EXPORT, DefaultAction: api.RouteAction_ACCEPT,
	}})
	if err != nil {
		return fmt.Errorf("export policy: %w", err)
	}
	if _, err := a.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true, Direction: api.ResetPeerRequest_OUT}); err != nil {
		return fmt.Errorf("soft reset out: %w", err)
	}
	return nil
}

// waitEstablished waits until A has every session up.
func (t *topology) waitEstablished(ctx context.Context) error {
	want := 2 + len(t.field)
	return poll(ctx, 30*time.Second, t.a.proc, func(ctx context.Context) (bool, error) {
		up := 0
		err := listPeers(ctx, t.a.api, func(p *api.Peer) {
			if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
				up++
			}
		})
		return up == want, err
	})
}

func listPeers(ctx context.Context, c api.GobgpApiClient, fn func(*api.Peer)) error {
	stream, err := c.ListPeer(ctx, &api.ListPeerRequest{})
	if err != nil {
		return err
	}
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(r.GetPeer())
	}
}

// poll calls ready every 50 ms until it says true, the timeout passes, or
// p (if not nil) dies.
func poll(ctx context.Context, timeout time.Duration, p *proc, ready func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil {
			if err := exited(p); err != nil {
				return err
			}
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := ready(rctx)
		rcancel()
		if err != nil {
			last = err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
