package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// peregrinedBin is built once per test binary by TestMain.
var peregrinedBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peregrine-interop")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	peregrinedBin = filepath.Join(dir, "peregrined")
	out, err := exec.Command("go", "build", "-o", peregrinedBin, "github.com/peregrine-net/peregrine/cmd/peregrined").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build peregrined: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pe is a running peregrined and its local API. Its JSON documents are
// decoded into this file's own structs, not the daemon's types, so a bug
// in those types cannot hide here.
type pe struct {
	name string
	node *netns.Node
	proc *netns.Process
	sock string
	http *http.Client
}

type apiRoute struct {
	Prefix  netip.Prefix `json:"prefix"`
	NextHop netip.Addr   `json:"next-hop"`
	Label   uint32       `json:"label"`
	RD      string       `json:"rd"`
	Local   bool         `json:"local"`
}

type apiNeighbor struct {
	Address netip.Addr    `json:"address"`
	State   string        `json:"state"`
	Reason  string        `json:"reason"`
	Uptime  time.Duration `json:"uptime"`
}

func startPE(t *testing.T, node *netns.Node, configYAML string) *pe {
	t.Helper()
	sock := filepath.Join(node.Lab().Dir(), node.Name()+".sock")
	p := &pe{name: "peregrined@" + node.Name(), node: node, sock: sock}
	p.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	proc, err := peers.StartPeregrined(node, peregrinedBin, configYAML+"\ncontrol: {socket: "+sock+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	p.proc = proc
	return p
}

func (p *pe) get(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://peregrined"+path, nil)
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", p.name, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (p *pe) routes(ctx context.Context, vrf string) ([]apiRoute, error) {
	var doc struct {
		Routes []apiRoute `json:"routes"`
	}
	err := p.get(ctx, "/v1/vrfs/"+vrf+"/routes", &doc)
	return doc.Routes, err
}

func (p *pe) neighbors(ctx context.Context) ([]apiNeighbor, error) {
	var ns []apiNeighbor
	err := p.get(ctx, "/v1/bgp/neighbors", &ns)
	return ns, err
}

// localLabel returns the label this PE advertises for a prefix of vrf.
func (p *pe) localLabel(ctx context.Context, vrf, prefix string) uint32 {
	var label uint32
	_ = peers.Eventually(ctx, func(ctx context.Context) error {
		rs, err := p.routes(ctx, vrf)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Local && r.Prefix.String() == prefix {
				label = r.Label
				return nil
			}
		}
		return fmt.Errorf("%s vrf %s: no local %s", p.name, vrf, prefix)
	})
	return label
}

// waitImported waits until vrf has exactly the imported (non-local)
// routes in want, each "PREFIX via NEXTHOP label L rd RD"; "label *"
// matches any label.
func (p *pe) waitImported(t *testing.T, ctx context.Context, vrf string, want ...string) {
	t.Helper()
	wantS := strings.Join(want, "; ")
	var got string
	err := peers.Eventually(ctx, func(ctx context.Context) error {
		rs, err := p.routes(ctx, vrf)
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
			return fmt.Errorf("%s vrf %s imported %q, want %q", p.name, vrf, got, wantS)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s log:\n%s", err, p.name, p.proc.LogTail(30))
	}
}

// reload rewrites the config file and sends SIGHUP, then waits for the log
// line that says it took.
func (p *pe) reload(t *testing.T, configYAML string) {
	t.Helper()
	p.writeConfig(t, configYAML)
	before := strings.Count(p.proc.LogTail(1000), "configuration reloaded")
	if err := signalHUP(p.proc.Pid()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := peers.Eventually(ctx, func(context.Context) error {
		log := p.proc.LogTail(1000)
		if strings.Count(log, "configuration reloaded") > before {
			return nil
		}
		if i := strings.LastIndex(log, "reload refused"); i >= 0 {
			return fmt.Errorf("reload refused: %s", log[i:])
		}
		return fmt.Errorf("no reload logged yet")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeConfig replaces the daemon's configuration file.
func (p *pe) writeConfig(t *testing.T, configYAML string) {
	t.Helper()
	conf := filepath.Join(p.node.Lab().Dir(), p.node.Name()+"-peregrined", "peregrined.yml")
	if err := os.WriteFile(conf, []byte(configYAML+"\ncontrol: {socket: "+p.sock+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
