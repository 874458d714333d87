package pelab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// PE is a running peregrined and its local API on a Unix socket in the
// lab's directory, which the host reaches whatever the daemon's namespace.
type PE struct {
	Name string // peregrined@NODE, for messages
	Node *netns.Node
	Proc *netns.Process
	sock string
	http *http.Client
}

// Route is one route as /v1/vrfs/NAME/routes lists it.
type Route struct {
	Prefix  netip.Prefix `json:"prefix"`
	NextHop netip.Addr   `json:"next-hop"`
	Label   uint32       `json:"label"`
	RD      string       `json:"rd"`
	Local   bool         `json:"local"`
}

// Neighbor is one BGP session as /v1/bgp/neighbors lists it.
type Neighbor struct {
	Address netip.Addr    `json:"address"`
	State   string        `json:"state"`
	Reason  string        `json:"reason"`
	Uptime  time.Duration `json:"uptime"`
}

// SA is one SA as /v1/ipsec/sa lists it.
type SA struct {
	Remote    string `json:"remote"`
	Direction string `json:"direction"`
	SPI       uint32 `json:"spi"`
	Packets   uint64 `json:"packets"`
}

// StartPE starts bin in node with configYAML (peers.StartPeregrined), its
// control socket in the lab's directory.
func StartPE(t netns.TB, node *netns.Node, bin, configYAML string) *PE {
	t.Helper()
	sock := filepath.Join(node.Lab().Dir(), node.Name()+".sock")
	p := &PE{Name: "peregrined@" + node.Name(), Node: node, sock: sock}
	p.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	proc, err := peers.StartPeregrined(node, bin, configYAML+"\ncontrol: {socket: "+sock+"}\n")
	if err != nil {
		t.Fatalf("%v", err)
	}
	p.Proc = proc
	return p
}

// Get decodes the JSON document at path of the local API into v.
func (p *PE) Get(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://peregrined"+path, nil)
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", p.Name, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Routes lists vrf's routes.
func (p *PE) Routes(ctx context.Context, vrf string) ([]Route, error) {
	var doc struct {
		Routes []Route `json:"routes"`
	}
	err := p.Get(ctx, "/v1/vrfs/"+vrf+"/routes", &doc)
	return doc.Routes, err
}

// Neighbors lists the BGP sessions.
func (p *PE) Neighbors(ctx context.Context) ([]Neighbor, error) {
	var ns []Neighbor
	err := p.Get(ctx, "/v1/bgp/neighbors", &ns)
	return ns, err
}

// LocalLabel returns the label this PE advertises for a prefix of vrf.
func (p *PE) LocalLabel(ctx context.Context, vrf, prefix string) uint32 {
	var label uint32
	_ = peers.Eventually(ctx, func(ctx context.Context) error {
		rs, err := p.Routes(ctx, vrf)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Local && r.Prefix.String() == prefix {
				label = r.Label
				return nil
			}
		}
		return fmt.Errorf("%s vrf %s: no local %s", p.Name, vrf, prefix)
	})
	return label
}

// WaitImported waits until vrf has exactly the imported (non-local)
// routes in want, each "PREFIX via NEXTHOP label L rd RD"; "label *"
// matches any label.
func (p *PE) WaitImported(t netns.TB, ctx context.Context, vrf string, want ...string) {
	t.Helper()
	wantS := strings.Join(want, "; ")
	var got string
	err := peers.Eventually(ctx, func(ctx context.Context) error {
		rs, err := p.Routes(ctx, vrf)
		if err != nil {
			return err
		}
		var lines []string
		for _, r := range rs {
			if !r.Local {
				label := fmt.Sprint(r.Label)
				if len(want) > len(lines) && strings.Contains(want[len(lines)], "label * ") {
					label = "*"
				}
				lines = append(lines, fmt.Sprintf("%s via %s label %s rd %s", r.Prefix, r.NextHop, label, r.RD))
			}
		}
		if got = strings.Join(lines, "; "); got != wantS {
			return fmt.Errorf("%s vrf %s imported %q, want %q", p.Name, vrf, got, wantS)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s log:\n%s", err, p.Name, p.Proc.LogTail(30))
	}
}

// Reload rewrites the config file and sends SIGHUP, then waits for the
// log line that says it took.
func (p *PE) Reload(t netns.TB, configYAML string) {
	t.Helper()
	if err := p.TryReload(configYAML); err != nil {
		t.Fatalf("%v", err)
	}
}

// TryReload is Reload returning an error: the refusal the daemon logged,
// or no answer within 10 s.
func (p *PE) TryReload(configYAML string) error {
	if err := p.writeConfig(configYAML); err != nil {
		return err
	}
	// Count in the whole log: a tail of fixed length stops counting once
	// it holds as many reloads as it has lines.
	before := strings.Count(p.logText(), "configuration reloaded")
	if err := syscall.Kill(p.Proc.Pid(), syscall.SIGHUP); err != nil {
		return fmt.Errorf("%s: SIGHUP: %w", p.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return peers.Eventually(ctx, func(context.Context) error {
		log := p.logText()
		if strings.Count(log, "configuration reloaded") > before {
			return nil
		}
		if i := strings.LastIndex(log, "reload refused"); i >= 0 {
			return fmt.Errorf("%s: reload refused: %s", p.Name, log[i:])
		}
		return fmt.Errorf("%s: no reload logged yet", p.Name)
	})
}

func (p *PE) logText() string {
	b, _ := os.ReadFile(p.Proc.LogPath())
	return string(b)
}

// WriteConfig replaces the daemon's configuration file.
func (p *PE) WriteConfig(t netns.TB, configYAML string) {
	t.Helper()
	if err := p.writeConfig(configYAML); err != nil {
		t.Fatalf("%v", err)
	}
}

func (p *PE) writeConfig(configYAML string) error {
	conf := filepath.Join(p.Node.Lab().Dir(), p.Node.Name()+"-peregrined", "peregrined.yml")
	return os.WriteFile(conf, []byte(configYAML+"\ncontrol: {socket: "+p.sock+"}\n"), 0o600)
}

// Sessions returns each neighbor's state and uptime by address.
func (p *PE) Sessions(t netns.TB, ctx context.Context) map[string]Neighbor {
	t.Helper()
	ns, err := p.Neighbors(ctx)
	must(t, err)
	m := map[string]Neighbor{}
	for _, n := range ns {
		m[n.Address.String()] = n
	}
	return m
}

// WaitSessionsDown waits until none of p's BGP sessions is established:
// after its peer was killed and before that peer restarts, since while p
// still holds the old session Established, GoBGP closes the new peer's
// connections.
func (p *PE) WaitSessionsDown(ctx context.Context) error {
	return peers.Eventually(ctx, func(ctx context.Context) error {
		ns, err := p.Neighbors(ctx)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.State == "established" {
				return fmt.Errorf("%s still has %s established", p.Name, n.Address)
			}
		}
		return nil
	})
}

// CheckNoFlap fails unless every session of before is still established
// and has been up since then (its uptime grew by at least the time that
// passed).
func (p *PE) CheckNoFlap(t netns.TB, ctx context.Context, before map[string]Neighbor, since time.Time) {
	t.Helper()
	after := p.Sessions(t, ctx)
	elapsed := time.Since(since)
	for a, b := range before {
		n := after[a]
		if n.State != "established" || n.Uptime < b.Uptime+elapsed-time.Second {
			t.Errorf("%s: session %s flapped: before %s up %v, after %s up %v (%v later)", p.Name, a, b.State, b.Uptime, n.State, n.Uptime, elapsed)
		}
	}
}

// SASet returns the PE's SAs as sorted "direction remote spi" lines.
func (p *PE) SASet(t netns.TB, ctx context.Context) []string {
	t.Helper()
	var sas []SA
	must(t, p.Get(ctx, "/v1/ipsec/sa", &sas))
	var s []string
	for _, sa := range sas {
		s = append(s, fmt.Sprintf("%s %s %#x", sa.Direction, sa.Remote, sa.SPI))
	}
	slices.Sort(s)
	return s
}

// VRFTable returns a VRF's routes as sorted lines, for comparing tables.
func (p *PE) VRFTable(t netns.TB, ctx context.Context, vrf string) []string {
	t.Helper()
	rs, err := p.Routes(ctx, vrf)
	must(t, err)
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%s via %s label %d rd %s local %v", r.Prefix, r.NextHop, r.Label, r.RD, r.Local))
	}
	slices.Sort(s)
	return s
}

// WaitTable waits until vrf's table is want (VRFTable's lines).
func (p *PE) WaitTable(t netns.TB, ctx context.Context, vrf string, want []string) {
	t.Helper()
	var got []string
	for ctx.Err() == nil {
		if got = p.VRFTable(t, ctx, vrf); slices.Equal(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s vrf %s:\ngot  %v\nwant %v", p.Name, vrf, got, want)
}

func must(t netns.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v", err)
	}
}
