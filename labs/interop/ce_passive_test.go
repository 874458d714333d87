package interop_test

// Passive CE sessions: pe1's red and blue each have a CE at 10.1.0.2,
// each on its own link where pe1 is 10.1.0.1, and each CE dials pe1
// (pe1's neighbors are passive): red's is gobgpd, blue's FRR's bgpd. The core listens on
// 192.168.0.1 only (bgp.listen-address), as passive CEs require.
//
//	cered  AS 65101, 192.0.2.1/32     10.1.0.2 ──ce1── pe1 ══ core ══ pe2  red: 10.9.0.0/24, 2001:db8:9::/48
//	  2001:db8:c1::1/128              fd00:1::2        fd00:1::1 (red's second passive CE, IPv6)
//	ceblue AS 65102, 198.51.100.1/32  10.1.0.2 ──ce2──'  192.168.0.1 .2   blue: 10.8.0.0/24
//	(FRR)
//
// No data plane here: the routes under test are BGP's (the CEs' RIBs
// and the VRFs' imported routes), so the core carries no ESP.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const cePassivePE1 = `
router: {id: 192.168.0.1, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  listen-address: 192.168.0.1
  neighbors: [{address: 192.168.0.2, asn: 65000, local-address: 192.168.0.1, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - name: red
    rd: '65000:11'
    import-targets: ['65000:1']
    export-targets: ['65000:1']
    interfaces: [ce1]
    neighbors:
      - {address: 10.1.0.2, asn: 65101, passive: true, local-address: 10.1.0.1, hold-time: 9s, keepalive: 3s}
      - {address: 'fd00:1::2', asn: 65101, families: [ipv6], passive: true, local-address: 'fd00:1::1', hold-time: 9s, keepalive: 3s}
  - name: blue
    rd: '65000:12'
    import-targets: ['65000:2']
    export-targets: ['65000:2']
    interfaces: [ce2]
%s`

const cePassiveBlueCE = `    neighbors:
      - {address: 10.1.0.2, asn: 65102, passive: true, local-address: 10.1.0.1, hold-time: 9s, keepalive: 3s}
`

const cePassivePE2 = `
router: {id: 192.168.0.2, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: 192.168.0.1, asn: 65000, local-address: 192.168.0.2, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - {name: red, rd: '65000:21', import-targets: ['65000:1'], export-targets: ['65000:1'], static-routes: [{prefix: 10.9.0.0/24}, {prefix: '2001:db8:9::/48'}]}
  - {name: blue, rd: '65000:22', import-targets: ['65000:2'], export-targets: ['65000:2'], static-routes: [{prefix: 10.8.0.0/24}]}
`

// ceFRRConf is a CE's FRR bgpd: eBGP to its PE at 10.1.0.1 from
// 10.1.0.2 (FRR connects unless told passive), announcing one prefix
// that, with no zebra, nothing installs (hence no import-check).
const ceFRRConf = `frr defaults traditional
hostname %[1]s
log stdout informational
router bgp %[2]d
 bgp router-id %[3]s
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor 10.1.0.1 remote-as 65000
 neighbor 10.1.0.1 update-source 10.1.0.2
 neighbor 10.1.0.1 timers connect 1
 address-family ipv4 unicast
  network %[4]s
  neighbor 10.1.0.1 activate
 exit-address-family
exit
`

// frrCE is a CE's FRR bgpd and the vty socket directory vtysh reaches it
// by.
type frrCE struct {
	node *netns.Node
	dir  string
}

func startFRRCE(t *testing.T, ctx context.Context, node *netns.Node, asn int, routerID, prefix string) *frrCE {
	t.Helper()
	if _, err := os.Stat(peers.DefaultBgpd); err != nil {
		t.Skipf("FRR's bgpd: %v", err)
	}
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-frr")
	must(t, os.MkdirAll(dir, 0o755))
	conf := filepath.Join(dir, "bgpd.conf")
	must(t, os.WriteFile(conf, fmt.Appendf(nil, ceFRRConf, node.Name(), asn, routerID, prefix), 0o644))
	_, err := node.StartCommand(netns.Command{Path: peers.DefaultBgpd, LogName: "bgpd", Args: []string{
		"-Z", "-S", "-P", "0", "--log", "stdout", "-f", conf, "-i", filepath.Join(dir, "bgpd.pid"), "--vty_socket", dir,
	}})
	must(t, err)
	f := &frrCE{node: node, dir: dir}
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		_, err := f.prefixes(ctx)
		return err
	}))
	return f
}

// prefixes lists the prefixes of the bgpd's IPv4 unicast table, from
// `show bgp ipv4 unicast json` ({"routes": {"PREFIX": [...]}}).
func (f *frrCE) prefixes(ctx context.Context) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, peers.DefaultVtysh, "--vty_socket", f.dir, "-c", "show bgp ipv4 unicast json").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: vtysh: %w\n%s", f.node.Name(), err, out)
	}
	var table struct {
		Routes map[string]json.RawMessage `json:"routes"`
	}
	if err := json.Unmarshal(out, &table); err != nil {
		return nil, fmt.Errorf("%s: show bgp json: %w\n%s", f.node.Name(), err, out)
	}
	got := map[string]bool{}
	for p := range table.Routes {
		got[p] = true
	}
	return got, nil
}

// ceSession is one CE session as pe1's /v1/bgp/vrfs/NAME/neighbors
// lists it.
type ceSession struct {
	Address string        `json:"address"`
	State   string        `json:"state"`
	Reason  string        `json:"reason"`
	Uptime  time.Duration `json:"uptime"`
	Flaps   uint64        `json:"flaps"`
}

func ceSessions(ctx context.Context, p *pe, vrf string) ([]ceSession, error) {
	var ns []ceSession
	err := p.Get(ctx, "/v1/bgp/vrfs/"+vrf+"/neighbors", &ns)
	return ns, err
}

// waitCEEstablished waits until vrf's n CE sessions on p are all
// established.
func waitCEEstablished(t *testing.T, ctx context.Context, p *pe, vrf string, n int) []ceSession {
	t.Helper()
	var got []ceSession
	err := peers.Eventually(ctx, func(ctx context.Context) error {
		ns, err := ceSessions(ctx, p, vrf)
		if err != nil {
			return err
		}
		if len(ns) != n || slices.ContainsFunc(ns, func(s ceSession) bool { return s.State != "established" }) {
			return fmt.Errorf("%s %s CE sessions: %+v, want %d established", p.Name, vrf, ns, n)
		}
		got = ns
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s log:\n%s", err, p.Name, p.Proc.LogTail(40))
	}
	return got
}

// closedUnanswered dials to from src inside node's namespace and reports
// nil if a listener took the connection and closed it without sending a
// byte (no BGP OPEN: GoBGP has no neighbor for src).
func closedUnanswered(node *netns.Node, src, to string) error {
	var c net.Conn
	err := netns.Do(node.Namespace(), func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		var err error
		c, err = d.Dial("tcp", to)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: connect from %s to %s: %w", node.Name(), src, to, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [64]byte
	n, err := c.Read(b[:])
	if n == 0 && (errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "connection reset")) {
		return nil
	}
	return fmt.Errorf("%s: connection from %s to %s: read %d bytes, %v; want it closed unanswered", node.Name(), src, to, n, err)
}

func TestE2ECEPassive(t *testing.T) {
	peers.RequireGoBGP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	l, ns := newLabNodes(t, "pe1", "pe2", "cered", "ceblue")
	pe1n, pe2n, redn, bluen := ns[0], ns[1], ns[2], ns[3]
	pelab.Link(t, l, pe1n, "core", "192.168.0.1/30", pe2n, "core", "192.168.0.2/30")
	pelab.Link(t, l, pe1n, "ce1", "10.1.0.1/24", redn, "eth0", "10.1.0.2/24")
	pelab.Link(t, l, pe1n, "ce2", "10.1.0.1/24", bluen, "eth0", "10.1.0.2/24")
	must(t, redn.AddAddr("eth0", pfx("10.1.0.3/24"))) // an address that is no CE of red
	must(t, pe1n.AddAddr("ce1", pfx("fd00:1::1/64")))
	must(t, redn.AddAddr("eth0", pfx("fd00:1::2/64")))
	must(t, redn.AddAddr("lo", pfx("192.0.2.1/32")))
	must(t, bluen.AddAddr("lo", pfx("198.51.100.1/32")))
	pelab.MustExec(t, redn, "ip", "route", "add", "192.168.0.0/30", "via", "10.1.0.1")

	cered := startGoBGPCE(t, ctx, redn, 65101, "10.255.0.1",
		ceGoBGPSession{pe: "10.1.0.1", family: "ipv4", dialFrom: "10.1.0.2"},
		ceGoBGPSession{pe: "fd00:1::1", family: "ipv6", dialFrom: "fd00:1::2"})
	ceblue := startFRRCE(t, ctx, bluen, 65102, "10.255.0.2", "198.51.100.1/32")
	_, err := cered.gobgp(ctx, "global", "rib", "-a", "ipv4", "add", "192.0.2.1/32")
	must(t, err)
	_, err = cered.gobgp(ctx, "global", "rib", "-a", "ipv6", "add", "2001:db8:c1::1/128")
	must(t, err)
	// Each CE's table as a set of prefixes.
	ribs := map[string]func(context.Context) (map[string]bool, error){
		"cered": func(ctx context.Context) (map[string]bool, error) {
			rib, err := cered.rib(ctx, "ipv4")
			got := map[string]bool{}
			for p := range rib {
				got[p] = true
			}
			return got, err
		},
		"ceblue": ceblue.prefixes,
	}

	pe1 := startPE(t, pe1n, fmt.Sprintf(cePassivePE1, ""))
	pe2 := startPE(t, pe2n, cePassivePE2)

	// red's CE dials, over IPv4 and IPv6, and gets red's sessions
	// (red listens on 10.1.0.1 and fd00:1::1 on ce1); routes go both
	// ways.
	red := waitCEEstablished(t, ctx, pe1, "red", 2)
	waitImportedHas(t, ctx, pe2, "red", "192.0.2.1/32 via 192.168.0.1")
	waitCERoute(t, ctx, "cered", ribs["cered"], "10.9.0.0/24")
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		got, err := imported(ctx, pe2, "red")
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "2001:db8:c1::1/128 via ") }) {
			return fmt.Errorf("pe2 red imported %v, want cered's 2001:db8:c1::1/128", got)
		}
		return nil
	}))
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		rib, err := cered.rib(ctx, "ipv6")
		if err != nil {
			return err
		}
		if _, ok := rib["2001:db8:9::/48"]; !ok {
			return fmt.Errorf("cered's IPv6 table lacks pe2's 2001:db8:9::/48: %v", rib)
		}
		return nil
	}))
	core := pe1.Sessions(t, ctx)
	if core["192.168.0.2"].State != "established" {
		t.Fatalf("core session: %+v", core)
	}
	since := time.Now()

	t.Run("a connection from an address that is no CE is closed unanswered", func(t *testing.T) {
		if err := closedUnanswered(redn, "10.1.0.3", "10.1.0.1:179"); err != nil {
			t.Error(err)
		}
		if ns, err := ceSessions(ctx, pe1, "red"); err != nil || len(ns) != 2 {
			t.Errorf("red's CE sessions: %+v, %v", ns, err)
		}
	})

	t.Run("blue's CE has no session until blue has a passive neighbor", func(t *testing.T) {
		if ns, err := ceSessions(ctx, pe1, "blue"); err != nil || len(ns) != 0 {
			t.Errorf("blue's CE sessions: %+v, %v", ns, err)
		}
		if rib, err := ceblue.prefixes(ctx); err != nil || len(rib) != 1 {
			t.Errorf("ceblue's RIB holds more than its own route: %v, %v", rib, err)
		}
	})

	t.Run("a reload adding blue's passive CE resets neither red's nor the core's session", func(t *testing.T) {
		pe1.Reload(t, fmt.Sprintf(cePassivePE1, cePassiveBlueCE))
		waitCEEstablished(t, ctx, pe1, "blue", 1)
		waitImportedHas(t, ctx, pe2, "blue", "198.51.100.1/32 via 192.168.0.1")
		waitCERoute(t, ctx, "ceblue", ribs["ceblue"], "10.8.0.0/24")
		ns, err := ceSessions(ctx, pe1, "red")
		must(t, err)
		for i, n := range ns {
			if len(ns) != len(red) || n.State != "established" || n.Flaps != 0 || n.Uptime < red[i].Uptime+time.Since(since)-time.Second {
				t.Errorf("red's CE sessions after the reload: %+v, before %+v", ns, red)
				break
			}
		}
	})

	t.Run("each CE's routes stay in its VRF", func(t *testing.T) {
		time.Sleep(2 * time.Second) // let anything that would leak arrive
		for _, c := range []struct {
			vrf  string
			want string
		}{{"red", "192.0.2.1/32 via 192.168.0.1"}, {"blue", "198.51.100.1/32 via 192.168.0.1"}} {
			all, err := imported(ctx, pe2, c.vrf)
			must(t, err)
			var got []string // IPv4: red's IPv6 routes are checked above
			for _, l := range all {
				if !strings.Contains(l, ":") {
					got = append(got, l)
				}
			}
			// pe1's connected 10.1.0.0/24 of each VRF, and its CE's route.
			if want := []string{"10.1.0.0/24 via 192.168.0.1", c.want}; !slices.Equal(got, want) {
				t.Errorf("pe2 %s imported %v, want %v", c.vrf, got, want)
			}
		}
		for _, c := range []struct {
			ce, own, not string
		}{{"cered", "10.9.0.0/24", "10.8.0.0/24"}, {"ceblue", "10.8.0.0/24", "10.9.0.0/24"}} {
			rib, err := ribs[c.ce](ctx)
			must(t, err)
			if !rib[c.own] {
				t.Errorf("%s lacks its VRF's %s: %v", c.ce, c.own, rib)
			}
			if rib[c.not] {
				t.Errorf("%s has the other VRF's %s: %v", c.ce, c.not, rib)
			}
		}
	})

	t.Run("a CE dialing the core's address is not answered", func(t *testing.T) {
		// The userspace backend moves the local rule after the VRF
		// rules: from its link a CE reaches only its VRF's copies of
		// the link's local routes, not the core's listener.
		if err := notAnswered(redn, "10.1.0.2", "192.168.0.1:179"); err != nil {
			t.Error(err)
		}
	})

	pe1.CheckNoFlap(t, ctx, core, since)
}

// notAnswered dials to from src inside node's namespace and reports nil
// if the connection is not established (no SYN-ACK within 3 s, or
// refused).
func notAnswered(node *netns.Node, src, to string) error {
	return netns.Do(node.Namespace(), func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 3 * time.Second}
		c, err := d.Dial("tcp", to)
		if err != nil {
			return nil
		}
		c.Close()
		return fmt.Errorf("%s: connection from %s to %s established", node.Name(), src, to)
	})
}

// waitCERoute waits until the CE's table (as rib reads it) has prefix.
func waitCERoute(t *testing.T, ctx context.Context, ce string, rib func(context.Context) (map[string]bool, error), prefix string) {
	t.Helper()
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		got, err := rib(ctx)
		if err != nil {
			return err
		}
		if !got[prefix] {
			return fmt.Errorf("%s: no %s in its table (%v)", ce, prefix, got)
		}
		return nil
	}))
}

// waitImportedHas waits until p's vrf imported line ("PREFIX via NH").
func waitImportedHas(t *testing.T, ctx context.Context, p *pe, vrf, line string) {
	t.Helper()
	err := peers.Eventually(ctx, func(ctx context.Context) error {
		got, err := imported(ctx, p, vrf)
		if err != nil {
			return err
		}
		if !slices.Contains(got, line) {
			return fmt.Errorf("%s vrf %s imported %v, want %s among them", p.Name, vrf, got, line)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s log:\n%s", err, p.Name, p.Proc.LogTail(40))
	}
}

// TestE2ECECoreWildcardTakesCEConnections records what a PE with the core
// on the wildcard address (no bgp.listen-address, the default) does with
// a connection from a CE's link to its CE-facing address on port 179:
// the core's GoBGP listener accepts it (the TCP handshake completes) and
// closes it, its source being no core neighbor. Only GoBGP's lookup of
// the source address stands between a CE and the core's sessions, which
// is why passive CEs require bgp.listen-address (the VRF's listener then
// takes the connection instead) and why setting it is the safer default
// for any PE with CEs.
func TestE2ECECoreWildcardTakesCEConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, ns := newLabNodes(t, "pe1", "cered")
	pe1n, redn := ns[0], ns[1]
	pelab.Link(t, l, pe1n, "ce1", "10.1.0.1/24", redn, "eth0", "10.1.0.3/24")
	pe1 := startPE(t, pe1n, `
router: {id: 192.168.0.1, asn: 65000}
log: {level: debug}
bgp: {api: ''}
vrfs:
  - name: red
    rd: '65000:11'
    interfaces: [ce1]
    neighbors: [{address: 10.1.0.2, asn: 65101}]
`)
	// Wait for the red VRF's rules: until then ce1 is the host's.
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		ns, err := ceSessions(ctx, pe1, "red")
		if err != nil || len(ns) != 1 || !strings.Contains(string(pelab.MustExec(t, pe1n, "ip", "rule")), "iif ce1") {
			return fmt.Errorf("red not set up yet: %+v, %v", ns, err)
		}
		return nil
	}))
	if err := closedUnanswered(redn, "10.1.0.3", "10.1.0.1:179"); err != nil {
		t.Fatal(err)
	}
	must(t, peers.Eventually(ctx, func(context.Context) error {
		for _, line := range strings.Split(pe1.Proc.LogTail(400), "\n") {
			if strings.Contains(line, "new passive connection") && strings.Contains(line, "10.1.0.3") {
				if strings.Contains(line, "vrf=") {
					return fmt.Errorf("a VRF's CE server, not the core's, logged it: %s", line)
				}
				t.Logf("pe1: %s", line)
				return nil
			}
		}
		return errors.New("no GoBGP log line of the core's listener closing 10.1.0.3's connection")
	}))
}
