package peers

// gobgpd v3.37.0 (built by `make tools`) as a VPNv4/VPNv6 speaker.
//
// How it runs here: `gobgpd -f gobgpd.toml --config-strict -p --api-hosts
// 127.0.0.1:PORT --pprof-disable`, supervised. The gRPC API listens on the
// node's own loopback, so the gobgp CLI must run in the same namespace
// (`ip netns exec NS gobgp -p PORT ...`); every node can use the same port.
// Neighbors get both `l3vpn-ipv4-unicast` and `l3vpn-ipv6-unicast`
// afi-safis. Routes are originated through the CLI:
// `gobgp global rib -a vpnv4 add P label L rd RD rt RT...`; `del` wants
// the label as well.

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/template"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// DefaultGoBGPAPIPort is the gRPC port gobgpd listens on inside its node.
const DefaultGoBGPAPIPort = 50051

// GoBGPConfig configures a gobgpd.
type GoBGPConfig struct {
	Config
	// ListenAddr restricts the BGP listener (global local-address-list);
	// default every address.
	ListenAddr netip.Addr
	APIPort    int // default DefaultGoBGPAPIPort
	// APISocket, if set, is a Unix socket path on which gobgpd serves its
	// gRPC API as well: a program on the host reaches it whatever the
	// node's namespace (the CLI's TCP port is inside the namespace).
	APISocket string
	Gobgpd    string // default Tool("gobgpd")
	Gobgp     string // default Tool("gobgp")
}

// GoBGP is a running gobgpd.
type GoBGP struct {
	daemon
	cfg GoBGPConfig
	cli string
}

var _ Speaker = (*GoBGP)(nil)

// StartGoBGP writes gobgpd.toml, starts gobgpd in node, waits until its API
// answers, then originates cfg.Routes.
func StartGoBGP(ctx context.Context, node *netns.Node, cfg GoBGPConfig) (*GoBGP, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("gobgp config: %w", err)
	}
	cfg.APIPort = cmp.Or(cfg.APIPort, DefaultGoBGPAPIPort)
	var err error
	if cfg.Gobgpd == "" {
		if cfg.Gobgpd, err = Tool("gobgpd"); err != nil {
			return nil, err
		}
	}
	if cfg.Gobgp == "" {
		if cfg.Gobgp, err = Tool("gobgp"); err != nil {
			return nil, err
		}
	}
	d, err := newDaemon(node, "gobgp")
	if err != nil {
		return nil, err
	}
	g := &GoBGP{daemon: d, cfg: cfg, cli: cfg.Gobgp}
	var b strings.Builder
	if err := gobgpConf.Execute(&b, cfg); err != nil {
		return nil, fmt.Errorf("gobgp config: %w", err)
	}
	confPath, err := g.writeFile("gobgpd.toml", b.String())
	if err != nil {
		return nil, err
	}
	apiHosts := "127.0.0.1:" + strconv.Itoa(cfg.APIPort)
	if cfg.APISocket != "" {
		apiHosts += ",unix://" + cfg.APISocket // gobgpd listens on each of a comma-separated list
	}
	g.proc, err = node.StartCommand(netns.Command{Path: cfg.Gobgpd, Args: []string{
		"-f", confPath, "--config-strict", "-p", "--pprof-disable", "--api-hosts", apiHosts,
	}})
	if err != nil {
		return nil, err
	}
	if err := g.waitUp(ctx, func(ctx context.Context) error {
		_, err := g.CLI(ctx, "global")
		return err
	}); err != nil {
		return nil, err
	}
	for _, r := range cfg.Routes {
		if err := g.AddRoute(ctx, r); err != nil {
			return nil, err
		}
	}
	return g, nil
}

var gobgpConf = template.Must(template.New("gobgpd.toml").Parse(`[global.config]
  as = {{.ASN}}
  router-id = "{{.RouterID}}"
  port = 179
{{- if .ListenAddr.IsValid}}
  local-address-list = ["{{.ListenAddr}}"]
{{- end}}
{{range .Neighbors}}
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{{.Address}}"
    peer-as = {{.RemoteAS}}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
{{- if .LocalAddress.IsValid}}
  [neighbors.transport.config]
    local-address = "{{.LocalAddress}}"
{{- end}}
{{- if .RRClient}}
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "{{$.RouterID}}"
{{- end}}
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv6-unicast"
{{end}}`))

// CLI runs the gobgp CLI against this gobgpd, inside its node, and returns
// its output: CLI(ctx, "-j", "neighbor").
func (g *GoBGP) CLI(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{g.cli, "-u", "127.0.0.1", "-p", strconv.Itoa(g.cfg.APIPort)}, args...)
	out, err := g.node.Exec(ctx, full...)
	if err != nil {
		return out, fmt.Errorf("%s: %w", g.name, err)
	}
	return out, nil
}

// AddRoute originates r: `gobgp global rib -a vpnv4 add P label L rd RD
// rt RT... [nexthop NH]`.
func (g *GoBGP) AddRoute(ctx context.Context, r VPNRoute) error {
	return g.rib(ctx, "add", r)
}

// DelRoute withdraws r: `gobgp global rib -a vpnv4 del P label L rd RD`.
func (g *GoBGP) DelRoute(ctx context.Context, r VPNRoute) error {
	return g.rib(ctx, "del", r)
}

func (g *GoBGP) rib(ctx context.Context, op string, r VPNRoute) error {
	if err := checkRoute(r); err != nil {
		return err
	}
	args := []string{"global", "rib", "-a", string(r.Family()), op, r.Prefix.String(),
		"label", strconv.FormatUint(uint64(r.Label), 10), "rd", gobgpAdmin(r.RD)}
	if op == "add" {
		for _, rt := range normalizeRTs(r.RTs) {
			args = append(args, "rt", gobgpAdmin(rt))
		}
		if r.NextHop.IsValid() {
			args = append(args, "nexthop", r.NextHop.String())
		}
	}
	_, err := g.CLI(ctx, args...)
	return err
}

// gobgpAdmin writes an RD or RT for gobgp's CLI, which reads a plain
// administrator number as 16 bits and silently clamps a four-octet ASN to
// 65535 ("4200000000:3" becomes "65535:3"): those must be given in asdot
// ("64086.59904:3").
func gobgpAdmin(s string) string {
	s = normalizeAdmin(s)
	admin, num, _ := strings.Cut(s, ":")
	as, err := strconv.ParseUint(admin, 10, 32)
	if err != nil || as <= 0xffff {
		return s
	}
	return fmt.Sprintf("%d.%d:%s", as>>16, as&0xffff, num)
}
