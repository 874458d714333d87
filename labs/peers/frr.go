package peers

// FRR 8.4's bgpd as a VPNv4/VPNv6 speaker or route reflector.
//
// How it runs here: `bgpd -Z -S -P 0 --log stdout -f bgpd.conf -i bgpd.pid
// --vty_socket DIR` in the foreground, supervised. -Z: no zebra (there is
// none; bgpd then logs "zclient_send_message() failed", harmless). -S: do
// not switch to user frr, needed as root. -P 0: no TCP vty on port 2605.
// vtysh --vty_socket DIR reaches it through DIR/bgpd.vty, from any
// namespace. Up in ~0.1 s.
//
// Without kernel VRFs FRR cannot be a VRF-based PE here (`router bgp N vrf
// X` stays inactive), so VPN routes are originated directly in the VPN
// tables: `network P rd RD label L route-map RM` under `address-family
// ipv4|ipv6 vpn`, the route-map setting `extcommunity rt` (the network
// command has no RT option).
//
// A neighbor with ExtendedNextHop gets `capability extended-nexthop` (RFC
// 8950), so that VPNv4 routes may carry IPv6 next hops over its session.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// FRRConfig configures an FRR bgpd.
type FRRConfig struct {
	Config
	// ListenAddr restricts the BGP listener (bgpd -l); default every address.
	ListenAddr netip.Addr
	Bgpd       string // default DefaultBgpd
	Vtysh      string // default DefaultVtysh
	// GracefulRestart, when set, makes bgpd a graceful-restart speaker
	// (RFC 4724) rather than only a helper, FRR's default.
	GracefulRestart *FRRGracefulRestart
}

// FRRGracefulRestart is bgpd's `bgp graceful-restart` with its timers, in
// whole seconds (zero: FRR's default).
type FRRGracefulRestart struct {
	// RestartTime is advertised: how long neighbors keep bgpd's routes
	// while it restarts (`bgp graceful-restart restart-time`).
	RestartTime time.Duration
	// StalePathTime bounds how long bgpd keeps a restarted neighbor's
	// stale paths once its session is back (`stalepath-time`).
	StalePathTime time.Duration
	// SelectDeferTime bounds how long a restarted bgpd waits for its
	// neighbors' End-of-RIB before selecting and advertising best paths
	// (`select-defer-time`, FRR's default 360 s).
	SelectDeferTime time.Duration
}

// FRR is a running FRR bgpd.
type FRR struct {
	daemon
	cfg   FRRConfig
	vtysh string
	args  []string   // bgpd's command line, for Restart
	mu    sync.Mutex // serialises configuration changes
}

var _ Speaker = (*FRR)(nil)

// StartFRR writes bgpd.conf, starts bgpd in node and waits until vtysh
// answers.
func StartFRR(ctx context.Context, node *netns.Node, cfg FRRConfig) (*FRR, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("frr config: %w", err)
	}
	d, err := newDaemon(node, "frr")
	if err != nil {
		return nil, err
	}
	f := &FRR{daemon: d, cfg: cfg, vtysh: cmp.Or(cfg.Vtysh, DefaultVtysh)}
	conf, err := f.config()
	if err != nil {
		return nil, err
	}
	confPath, err := f.writeFile("bgpd.conf", conf)
	if err != nil {
		return nil, err
	}
	args := []string{"-Z", "-S", "-P", "0", "--log", "stdout",
		"-f", confPath, "-i", f.dir + "/bgpd.pid", "--vty_socket", f.dir}
	if cfg.ListenAddr.IsValid() {
		args = append(args, "-l", cfg.ListenAddr.String())
	}
	f.args = args
	if err := f.start(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// start starts bgpd with f.args and waits until vtysh answers.
func (f *FRR) start(ctx context.Context) error {
	proc, err := f.node.StartCommand(netns.Command{Path: cmp.Or(f.cfg.Bgpd, DefaultBgpd), Args: f.args, LogName: "bgpd"})
	if err != nil {
		return err
	}
	f.proc = proc
	return f.waitUp(ctx, func(ctx context.Context) error {
		_, err := f.Vtysh(ctx, "show bgp summary json")
		return err
	})
}

var frrConf = template.Must(template.New("bgpd.conf").Funcs(template.FuncMap{
	"routemap": routeMapName,
	"join":     strings.Join,
	"seconds":  func(d time.Duration) int64 { return int64(d / time.Second) },
}).Parse(`frr defaults traditional
hostname {{.Name}}
log stdout informational
!
{{- range .RouteMaps}}
route-map {{routemap .}} permit 10
 set extcommunity rt {{join . " "}}
exit
!
{{- end}}
router bgp {{.ASN}}
 bgp router-id {{.RouterID}}
 no bgp default ipv4-unicast
 timers bgp 3 9
{{- with .GracefulRestart}}
 bgp graceful-restart
 {{- if .RestartTime}}
 bgp graceful-restart restart-time {{seconds .RestartTime}}
 {{- end}}
 {{- if .StalePathTime}}
 bgp graceful-restart stalepath-time {{seconds .StalePathTime}}
 {{- end}}
 {{- if .SelectDeferTime}}
 bgp graceful-restart select-defer-time {{seconds .SelectDeferTime}}
 {{- end}}
{{- end}}
{{- range .Neighbors}}
 neighbor {{.Address}} remote-as {{.RemoteAS}}
 neighbor {{.Address}} timers connect 1
 {{- if .LocalAddress.IsValid}}
 neighbor {{.Address}} update-source {{.LocalAddress}}
 {{- end}}
 {{- if .ExtendedNextHop}}
 neighbor {{.Address}} capability extended-nexthop
 {{- end}}
{{- end}}
{{- range $af := .AFs}}
 !
 address-family {{$af.Name}} vpn
 {{- range $.Neighbors}}
  neighbor {{.Address}} activate
  {{- if .RRClient}}
  neighbor {{.Address}} route-reflector-client
  {{- end}}
 {{- end}}
 {{- range $af.Routes}}
  network {{.Prefix}} rd {{.RD}} label {{.Label}}{{if .RTs}} route-map {{routemap .RTs}}{{end}}
 {{- end}}
 exit-address-family
{{- end}}
exit
!
`))

// config renders bgpd.conf.
func (f *FRR) config() (string, error) {
	type af struct {
		Name   string
		Routes []VPNRoute
	}
	data := struct {
		Config
		Name            string
		RouteMaps       [][]string
		AFs             []af
		GracefulRestart *FRRGracefulRestart
	}{Config: f.cfg.Config, Name: strings.ReplaceAll(f.name, "@", "-"), GracefulRestart: f.cfg.GracefulRestart}
	v4, v6 := af{Name: "ipv4"}, af{Name: "ipv6"}
	for _, r := range f.cfg.Routes {
		r.RTs = normalizeRTs(r.RTs)
		if r.RTs != nil && !slices.ContainsFunc(data.RouteMaps, func(m []string) bool { return slices.Equal(m, r.RTs) }) {
			data.RouteMaps = append(data.RouteMaps, r.RTs)
		}
		if r.Family() == VPNv4 {
			v4.Routes = append(v4.Routes, r)
		} else {
			v6.Routes = append(v6.Routes, r)
		}
	}
	data.AFs = []af{v4, v6}
	var b strings.Builder
	if err := frrConf.Execute(&b, data); err != nil {
		return "", fmt.Errorf("frr config: %w", err)
	}
	return b.String(), nil
}

// routeMapName names the route-map that sets rts: "PG_RT_65000_1_65000_2".
func routeMapName(rts []string) string {
	return "PG_RT_" + strings.NewReplacer(":", "_", ".", "_").Replace(strings.Join(rts, "_"))
}

// Vtysh runs vtysh commands (each one -c) against this bgpd and returns
// the output. FRR prints errors as "% ..." lines, often with exit status 0:
// those are returned as errors too.
func (f *FRR) Vtysh(ctx context.Context, cmds ...string) ([]byte, error) {
	args := []string{"--vty_socket", f.dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := runHost(ctx, f.vtysh, args...)
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "%") {
				err = errors.New(strings.TrimSpace(line))
				break
			}
		}
	}
	if err != nil {
		return out, fmt.Errorf("%s: vtysh %q: %w", f.name, cmds, err)
	}
	return out, nil
}

// AddRoute originates r: it creates the route-map for r's RTs if needed and
// adds a `network ... rd ... label ...` under the family's VPN table.
func (f *FRR) AddRoute(ctx context.Context, r VPNRoute) error {
	return f.network(ctx, r, "")
}

// DelRoute withdraws r (`no network P rd RD label L`).
func (f *FRR) DelRoute(ctx context.Context, r VPNRoute) error {
	return f.network(ctx, r, "no ")
}

func (f *FRR) network(ctx context.Context, r VPNRoute, no string) error {
	if err := checkRoute(r); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cmds := []string{"configure terminal"}
	rts := normalizeRTs(r.RTs)
	if no == "" && rts != nil {
		cmds = append(cmds, "route-map "+routeMapName(rts)+" permit 10",
			"set extcommunity rt "+strings.Join(rts, " "), "exit")
	}
	afi := "ipv4"
	if r.Family() == VPNv6 {
		afi = "ipv6"
	}
	nw := fmt.Sprintf("%snetwork %s rd %s label %d", no, r.Prefix, normalizeAdmin(r.RD), r.Label)
	if no == "" && rts != nil {
		nw += " route-map " + routeMapName(rts)
	}
	cmds = append(cmds, fmt.Sprintf("router bgp %d", f.cfg.ASN), "address-family "+afi+" vpn", nw)
	_, err := f.Vtysh(ctx, cmds...)
	return err
}
