package peers

// BIRD 2.0.12 as a VPNv4/VPNv6 speaker.
//
// How it runs here: `bird -f -c bird.conf -s DIR/bird.ctl -P DIR/bird.pid`
// in the foreground, supervised, logging to stderr; `birdc -s
// DIR/bird.ctl` reaches it from any namespace. Up in well under a second.
//
// This BIRD has no MPLS domain and no L3VPN protocol, but BGP `vpn4 mpls`
// and `vpn6 mpls` channels carry VPN routes between a VPN table and the
// peer, and a static protocol fills the table:
//
//	route 65000:4 10.4.0.0/24 via 10.0.14.4 mpls 400 { bgp_ext_community.add((rt, 65000, 4)); };
//
// A static route needs a gateway on a connected network ("via"), and BGP
// next hops must resolve, so the config runs `protocol direct` (without it
// received routes show as "unreachable"). BIRD refuses a next hop of the
// other address family (it reads FRR's ::ffff:a.b.c.d as IPv4 and drops the
// route, "mismatched address family"), so an IPv4 session carries only
// vpn4 and an IPv6 session only vpn6, unless the neighbor asks for RFC
// 8950's extended next hop (NeighborConfig.ExtendedNextHop): then an IPv6
// session carries vpn4 too, with `extended next hop on`. Routes are changed at run time by
// rewriting bird.conf and `birdc configure`.

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"text/template"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// BIRDConfig configures a BIRD 2 daemon.
type BIRDConfig struct {
	Config
	// NextHop is the static routes' gateway when a route names none: an
	// address on one of the node's connected networks (its own is fine).
	// Default: the LocalAddress of the first neighbor of the route's
	// family.
	NextHop netip.Addr
	Bird    string // default DefaultBird
	Birdc   string // default DefaultBirdc
}

// BIRD is a running BIRD 2 daemon.
type BIRD struct {
	daemon
	cfg   BIRDConfig
	birdc string

	mu struct {
		sync.Mutex
		routes []VPNRoute // what the static protocols originate
	}
}

var _ Speaker = (*BIRD)(nil)

// StartBIRD writes bird.conf, starts bird in node and waits until birdc
// answers.
func StartBIRD(ctx context.Context, node *netns.Node, cfg BIRDConfig) (*BIRD, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bird config: %w", err)
	}
	d, err := newDaemon(node, "bird")
	if err != nil {
		return nil, err
	}
	b := &BIRD{daemon: d, cfg: cfg, birdc: cmp.Or(cfg.Birdc, DefaultBirdc)}
	b.mu.routes = slices.Clone(cfg.Routes)
	confPath, err := b.writeConfig(b.mu.routes)
	if err != nil {
		return nil, err
	}
	b.proc, err = node.StartCommand(netns.Command{Path: cmp.Or(cfg.Bird, DefaultBird), Args: []string{
		"-f", "-c", confPath, "-s", b.socket(), "-P", b.dir + "/bird.pid",
	}})
	if err != nil {
		return nil, err
	}
	if err := b.waitUp(ctx, func(ctx context.Context) error {
		_, err := b.Birdc(ctx, "show status")
		return err
	}); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *BIRD) socket() string { return b.dir + "/bird.ctl" }

// Birdc runs one birdc command against this daemon and returns its output
// (the "BIRD 2.0.12 ready." banner included). birdc exits 1 on errors.
func (b *BIRD) Birdc(ctx context.Context, args ...string) ([]byte, error) {
	out, err := runHost(ctx, b.birdc, append([]string{"-s", b.socket()}, args...)...)
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", b.name, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

type birdStatic struct {
	VPNRoute
	Via   netip.Addr
	RTs   [][2]string // (admin, number) pairs
	Table string
}

var birdConf = template.Must(template.New("bird.conf").Parse(`log stderr { info, remote, warning, error, auth, fatal, bug };
router id {{.RouterID}};
vpn4 table vpntab4;
vpn6 table vpntab6;
protocol device {}
# Next hops must resolve for received routes to be usable.
protocol direct { ipv4; ipv6; }
{{- range $t := .Tables}}
protocol static static_{{$t}} {
  {{if eq $t "vpntab4"}}vpn4{{else}}vpn6{{end}} { table {{$t}}; };
{{- range $.Statics}}{{if eq .Table $t}}
  route {{.RD}} {{.Prefix}} via {{.Via}} mpls {{.Label}}{{if .RTs}} { {{- range .RTs}} bgp_ext_community.add((rt, {{index . 0}}, {{index . 1}}));{{end}} }{{end}};
{{- end}}{{end}}
}
{{- end}}
{{- range $i, $n := .Neighbors}}
protocol bgp peer{{$i}} {
  {{if .LocalAddress.IsValid}}local {{.LocalAddress}} {{else}}local {{end}}as {{$.ASN}};
  neighbor {{.Address}} as {{.RemoteAS}};
  {{- if .RRClient}}
  rr client;
  {{- end}}
  connect delay time 1; connect retry time 1; error wait time 1, 5;
  hold time 9; keepalive time 3;
  {{if .Address.Is4}}vpn4 mpls { table vpntab4;{{else}}vpn6 mpls { table vpntab6;{{end}} import all; export all; };
  {{- if and .Address.Is6 .ExtendedNextHop}}
  vpn4 mpls { table vpntab4; import all; export all; extended next hop on; };
  {{- end}}
}
{{- end}}
`))

// writeConfig renders bird.conf for routes.
func (b *BIRD) writeConfig(routes []VPNRoute) (string, error) {
	data := struct {
		Config
		Tables  []string
		Statics []birdStatic
	}{Config: b.cfg.Config, Tables: []string{"vpntab4", "vpntab6"}}
	for _, r := range routes {
		s, err := b.static(r)
		if err != nil {
			return "", err
		}
		data.Statics = append(data.Statics, s)
	}
	var sb strings.Builder
	if err := birdConf.Execute(&sb, data); err != nil {
		return "", fmt.Errorf("bird config: %w", err)
	}
	return b.writeFile("bird.conf", sb.String())
}

func (b *BIRD) static(r VPNRoute) (birdStatic, error) {
	if err := checkRoute(r); err != nil {
		return birdStatic{}, err
	}
	s := birdStatic{VPNRoute: r, Via: r.NextHop, Table: "vpntab4"}
	if r.Family() == VPNv6 {
		s.Table = "vpntab6"
	}
	s.RD = normalizeAdmin(r.RD)
	if !s.Via.IsValid() && b.cfg.NextHop.IsValid() && b.cfg.NextHop.Is4() == r.Prefix.Addr().Is4() {
		s.Via = b.cfg.NextHop
	}
	for _, n := range b.cfg.Neighbors {
		if !s.Via.IsValid() && n.LocalAddress.IsValid() && n.LocalAddress.Is4() == r.Prefix.Addr().Is4() {
			s.Via = n.LocalAddress
		}
	}
	if !s.Via.IsValid() {
		return birdStatic{}, fmt.Errorf("route %v: bird needs a gateway: set NextHop or a neighbor's LocalAddress of the same family", r)
	}
	for _, rt := range normalizeRTs(r.RTs) {
		pair, err := splitAdmin(rt)
		if err != nil {
			return birdStatic{}, err
		}
		s.RTs = append(s.RTs, pair)
	}
	return s, nil
}

// AddRoute originates r by adding a static route and reconfiguring.
func (b *BIRD) AddRoute(ctx context.Context, r VPNRoute) error {
	return b.changeRoutes(ctx, func(routes []VPNRoute) ([]VPNRoute, error) {
		return append(routes, r), nil
	})
}

// DelRoute withdraws r (matched by RD, prefix and label) by removing its
// static route and reconfiguring.
func (b *BIRD) DelRoute(ctx context.Context, r VPNRoute) error {
	return b.changeRoutes(ctx, func(routes []VPNRoute) ([]VPNRoute, error) {
		i := slices.IndexFunc(routes, func(o VPNRoute) bool {
			return normalizeAdmin(o.RD) == normalizeAdmin(r.RD) && o.Prefix == r.Prefix && o.Label == r.Label
		})
		if i < 0 {
			return nil, fmt.Errorf("%s: no originated route %v", b.name, r)
		}
		return slices.Delete(routes, i, i+1), nil
	})
}

func (b *BIRD) changeRoutes(ctx context.Context, change func([]VPNRoute) ([]VPNRoute, error)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	routes, err := change(slices.Clone(b.mu.routes))
	if err != nil {
		return err
	}
	if _, err := b.writeConfig(routes); err != nil {
		return err
	}
	out, err := b.Birdc(ctx, "configure")
	if err != nil {
		// Put the file back as BIRD still runs it.
		_, _ = b.writeConfig(b.mu.routes)
		return err
	}
	if !strings.Contains(string(out), "Reconfigur") {
		return fmt.Errorf("%s: configure: %s", b.name, strings.TrimSpace(string(out)))
	}
	b.mu.routes = routes
	return nil
}
