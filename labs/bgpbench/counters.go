package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// counter reports how many benchmark routes a speaker holds.
type counter interface {
	count(ctx context.Context) (int, error)
}

// peregrineClient reads peregrined's local API (package
// cmd/internal/localapi, which is internal to cmd/, hence the local copy
// of the two fields used).
type peregrineClient struct{ http *http.Client }

func newPeregrineClient(sock string) *peregrineClient {
	return &peregrineClient{http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}}
}

// count is the VRF's imported count from GET /v1/vrfs.
func (c *peregrineClient) count(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://peregrined/v1/vrfs", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/vrfs: %s", resp.Status)
	}
	var vrfs []struct {
		Name     string `json:"name"`
		Imported int    `json:"imported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vrfs); err != nil {
		return 0, fmt.Errorf("GET /v1/vrfs: %w", err)
	}
	for _, v := range vrfs {
		if v.Name == vrfName {
			return v.Imported, nil
		}
	}
	return 0, fmt.Errorf("GET /v1/vrfs: no vrf %q", vrfName)
}

// gobgpCounter counts the VPNv4 destinations in a gobgpd's global RIB.
type gobgpCounter struct{ api api.GobgpApiClient }

func (c gobgpCounter) count(ctx context.Context) (int, error) {
	r, err := c.api.GetTable(ctx, &api.GetTableRequest{TableType: api.TableType_GLOBAL, Family: vpnv4})
	if err != nil {
		return 0, err
	}
	return int(r.NumDestination), nil
}

// hostSnap is the host's busy CPU time and the part of it that is the
// benchmark's own (A, B, P and this program), at one moment.
type hostSnap struct {
	at         time.Time
	host, ours time.Duration
}

func (t *topology) hostSnap() (hostSnap, error) {
	s := hostSnap{at: time.Now()}
	var err error
	if s.host, err = hostBusy(); err != nil {
		return s, err
	}
	pids := []int{os.Getpid(), t.a.proc.Pid(), t.b.proc.Pid()}
	if t.pePID != os.Getpid() {
		pids = append(pids, t.pePID)
	}
	for _, f := range t.field {
		pids = append(pids, f.proc.Pid())
	}
	for _, pid := range pids {
		u, err := readUsage(pid)
		if err != nil {
			return s, err
		}
		s.ours += u.CPU
	}
	return s, nil
}

// otherCores is how many processors' worth of CPU the rest of the host
// used between two snapshots: other work competing for the same cores,
// which makes wall times slower and noisier than CPU times.
func otherCores(a, b hostSnap) float64 {
	others := (b.host - a.host) - (b.ours - a.ours)
	return max(0, others.Seconds()/b.at.Sub(a.at).Seconds())
}
