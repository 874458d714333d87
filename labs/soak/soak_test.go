package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/modroot"
	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// The soak's rhythm (doc.go).
const (
	sampleEvery = 10 * time.Second
	reloadEvery = time.Minute
	flapPeriod  = 10 * time.Second // routes added, then withdrawn half a period later
	flapRoutes  = 10000
	pingEvery   = 10 * time.Millisecond // 100 echoes per second
	pingTimeout = time.Second           // a later reply counts as lost (ping -W 1)
	iperfRate   = "10M"                 // bits per second, per VRF
	metricsAddr = "127.0.0.1:9963"
)

// soakLifetimes replace the IKE lab's: children rekeyed at 30 s, the IKE
// SA at 5 min, by time only (soft-bytes would rekey every second under
// iperf3).
const soakLifetimes = "child-lifetime: {soft: 30s, hard: 45s}\n      ike-lifetime: {soft: 5m, hard: 6m}"

// greenVRF is added and removed by the reloads: exported with red's RT, so
// pe2's red imports its route while it exists.
const greenVRF = "\n  - {name: green, rd: '65000:13', import-targets: ['65000:3'], export-targets: ['65000:1'], static-routes: [{prefix: 10.3.0.0/24}]}\n"

const flapNeighbor = "{address: 192.168.1.2, asn: 65000, local-address: 192.168.1.1, connect-retry: 1s, hold-time: 9s}"

// soakDuration reads SOAK; the test skips without it.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("SOAK")
	if s == "" {
		t.Skip("SOAK unset: the soak runs with `make soak` (SOAK=30m) or SOAK=3m go test -run TestSoak -v ./labs/soak/")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute {
		t.Fatalf("SOAK=%q: want a duration of at least 1m, such as 30m", s)
	}
	return d
}

// childLifetimes returns soakLifetimes, or with SOAK_CHILD_LIFETIME set
// (such as 3s) children rekeyed that often (hard: half as long again),
// to put many rekeys under the route flaps in a short run.
func childLifetimes(t *testing.T) string {
	s := os.Getenv("SOAK_CHILD_LIFETIME")
	if s == "" {
		return soakLifetimes
	}
	soft, err := time.ParseDuration(s)
	if err != nil || soft < time.Second {
		t.Fatalf("SOAK_CHILD_LIFETIME=%q: want a duration of at least 1s, such as 3s", s)
	}
	return fmt.Sprintf("child-lifetime: {soft: %s, hard: %s}\n      ike-lifetime: {soft: 5m, hard: 6m}", soft, soft*3/2)
}

// soakConfig turns the IKE lab's configuration into the soak's.
func soakConfig(cfg string, pe1 bool, lifetimes string) string {
	cfg = strings.Replace(cfg, pelab.IKELifetimes, lifetimes, 1)
	cfg = strings.Replace(cfg, "log: {level: debug}", "log: {level: info}", 1)
	if pe1 {
		cfg = strings.Replace(cfg, "hold-time: 9s}]", "hold-time: 9s}, "+flapNeighbor+"]", 1)
	}
	return cfg + "metrics: {listen: '" + metricsAddr + "'}\n"
}

func TestSoak(t *testing.T) {
	d := soakDuration(t)
	netns.RequireRoot(t)
	peers.RequireGoBGP(t)
	for _, tool := range []string{"iperf3", "curl"} {
		if _, err := peers.Tool(tool); err != nil {
			t.Skipf("%s not installed (apt-get install %s)", tool, tool)
		}
	}
	out := os.Getenv("SOAK_OUT")
	if out == "" {
		root, err := modroot.Find()
		if err != nil {
			t.Fatal(err)
		}
		out = filepath.Join(root, "build", "soak")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := pelab.BuildPeregrined(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	setup, cancelSetup := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelSetup()
	var gobgpNode *netns.Node
	e := pelab.BuildTwoPE(t, setup, pelab.TwoPESpec{Bin: bin, Configs: func(pe1, pe2 *netns.Node) (string, string) {
		l := pe1.Lab()
		var err error
		if gobgpNode, err = l.AddNode("gobgp"); err != nil {
			t.Fatal(err)
		}
		pelab.Link(t, l, pe1, "flap", "192.168.1.1/30", gobgpNode, "eth0", "192.168.1.2/30")
		cfg1, cfg2 := pelab.IKEConfigs(t, pe1, pe2)
		lt := childLifetimes(t)
		return soakConfig(cfg1, true, lt), soakConfig(cfg2, false, lt)
	}})
	sock := filepath.Join(e.Lab.Dir(), "gobgp-api.sock")
	gob, err := peers.StartGoBGP(setup, gobgpNode, peers.GoBGPConfig{
		Config: peers.Config{RouterID: netip.MustParseAddr("192.168.1.2"), ASN: 65000, Neighbors: []peers.NeighborConfig{
			{Address: netip.MustParseAddr("192.168.1.1"), RemoteAS: 65000, LocalAddress: netip.MustParseAddr("192.168.1.2")},
		}},
		APISocket: sock,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := peers.WaitEstablished(setup, gob, netip.MustParseAddr("192.168.1.1")); err != nil {
		t.Fatal(err)
	}
	flap, err := NewFlapper(sock, FlapRoutes{N: flapRoutes, RD: [2]uint32{65000, 99}, RT: [2]uint32{65000, 1}, NextHop: netip.MustParseAddr("192.168.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	defer flap.Close()
	red1, blue1, red2, blue2 := e.CE["ce-red-1"], e.CE["ce-blue-1"], e.CE["ce-red-2"], e.CE["ce-blue-2"]
	for _, n := range []*netns.Node{red1, blue1} {
		pelab.WaitPing(t, setup, n, "10.2.0.2")
	}
	// One flap before the clock starts, checked: the routes reach red
	// with pe2 as next hop, and leave again.
	first := time.Now()
	if err := flap.Add(setup); err != nil {
		t.Fatal(err)
	}
	waitRedRoutes(t, setup, e.PE1, func(n int) bool { return n >= flapRoutes+2 })
	t.Logf("%d flapped routes in pe1's red %v after the first AddPathStream", flapRoutes, time.Since(first).Round(time.Millisecond))
	if err := flap.Withdraw(setup); err != nil {
		t.Fatal(err)
	}
	waitRedRoutes(t, setup, e.PE1, func(n int) bool { return n < flapRoutes })

	r := &run{t: t, e: e, d: d, flap: flap, out: out}
	r.start(red1, blue1, red2, blue2)
	r.wait()
	r.report(gob)
}

// redRoutes is pe1's route count in VRF red (GET /v1/vrfs: imported).
func redRoutes(ctx context.Context, pe *pelab.PE) (int, error) {
	var vrfs []struct {
		Name     string `json:"name"`
		Imported int    `json:"imported"`
	}
	if err := pe.Get(ctx, "/v1/vrfs", &vrfs); err != nil {
		return 0, err
	}
	for _, v := range vrfs {
		if v.Name == "red" {
			return v.Imported, nil
		}
	}
	return 0, errors.New("no VRF red")
}

func waitRedRoutes(t *testing.T, ctx context.Context, pe *pelab.PE, ok func(int) bool) {
	t.Helper()
	err := peers.Eventually(ctx, func(ctx context.Context) error {
		n, err := redRoutes(ctx, pe)
		if err != nil {
			return err
		}
		if !ok(n) {
			return fmt.Errorf("%s: %d routes in red", pe.Name, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// run is one soak in progress: what its goroutines counted.
type run struct {
	t    *testing.T
	e    *pelab.TwoPE
	d    time.Duration
	flap *Flapper
	out  string

	begin    time.Time
	wg       sync.WaitGroup
	pings    map[string]*Pinger // by VRF
	iperfs   map[string]*netns.Process
	mu       sync.Mutex
	samples  map[string][]Sample
	scrapeKO int
	events   []string // "offset what", for events.log
	reloads  int
	refused  []string
	flaps    int
	flapKO   []string
}

func (r *run) event(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%8.1fs %s", time.Since(r.begin).Seconds(), fmt.Sprintf(format, args...)))
}

// start starts the pings, the iperf3 streams, the sampler, the flapper and
// the reloader.
func (r *run) start(red1, blue1, red2, blue2 *netns.Node) {
	t := r.t
	r.iperfs = map[string]*netns.Process{}
	for vrf, n := range map[string]*netns.Node{"red": red2, "blue": blue2} {
		if _, err := n.StartCommand(netns.Command{Path: "iperf3", Args: []string{"-s", "-p", "5201"}, LogName: "iperf3-server-" + vrf}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // the servers listen
	r.begin = time.Now()
	count := int(r.d / pingEvery)
	r.pings = map[string]*Pinger{}
	for i, vrf := range []string{"red", "blue"} {
		n := map[string]*netns.Node{"red": red1, "blue": blue1}[vrf]
		p, err := StartPinger(n.Namespace(), netip.MustParseAddr("10.2.0.2"), count, pingEvery, pingTimeout, uint16(0x5000+i))
		if err != nil {
			t.Fatal(err)
		}
		r.pings[vrf] = p
	}
	for vrf, n := range map[string]*netns.Node{"red": red1, "blue": blue1} {
		p, err := n.StartCommand(netns.Command{Path: "iperf3", LogName: "iperf3-" + vrf,
			Args: []string{"-c", "10.2.0.2", "-p", "5201", "-t", fmt.Sprint(int(r.d.Seconds())), "-b", iperfRate, "-J"}})
		if err != nil {
			t.Fatal(err)
		}
		r.iperfs[vrf] = p
	}
	r.samples = map[string][]Sample{}
	end := r.begin.Add(r.d)
	r.wg.Add(3)
	go r.sampler(end)
	go r.flapper(end)
	go r.reloader(end)
}

// every calls f at begin+period, begin+2 period, ... up to end.
func every(begin, end time.Time, period time.Duration, f func(at time.Duration)) {
	for at := period; !begin.Add(at).After(end); at += period {
		time.Sleep(time.Until(begin.Add(at)))
		f(at)
	}
}

func (r *run) sampler(end time.Time) {
	defer r.wg.Done()
	csvLog, err := CreateSampleLog(filepath.Join(r.out, "soak.csv"))
	if err != nil {
		r.t.Errorf("soak.csv: %v", err)
		return
	}
	defer csvLog.Close()
	tick := func(at time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		byPE := map[string]Sample{}
		for i, pe := range []*pelab.PE{r.e.PE1, r.e.PE2} {
			text, err := pe.Node.Exec(ctx, "curl", "-sf", "--max-time", "5", "http://"+metricsAddr+"/metrics")
			var s Sample
			if err == nil {
				s, err = ParseSample(at, text)
			}
			if err == nil {
				s.Proc, err = ReadProcMem(pe.Proc.Pid())
			}
			if err != nil {
				r.mu.Lock()
				r.scrapeKO++
				r.mu.Unlock()
				r.event("%s: /metrics: %v", pe.Name, err)
				continue
			}
			byPE[PEs[i]] = s
			r.mu.Lock()
			r.samples[PEs[i]] = append(r.samples[PEs[i]], s)
			r.mu.Unlock()
		}
		routes, _ := redRoutes(ctx, r.e.PE1)
		if err := csvLog.Row(at, byPE, routes); err != nil {
			r.t.Errorf("soak.csv: %v", err)
		}
	}
	tick(0)
	r.saveMemoryMaps("start")
	halfSaved := false
	every(r.begin, end, sampleEvery, func(at time.Duration) {
		tick(at)
		if !halfSaved && at >= r.d/2 {
			r.saveMemoryMaps("half") // where the judged second half starts
			halfSaved = true
		}
	})
	r.saveMemoryMaps("end")
}

// saveMemoryMaps copies each PE's /proc/PID/smaps (resident pages per
// mapping: the Go arenas, the binary's text, thread stacks, anything
// else) to PE-smaps-WHEN.txt, and writes the residency of its large
// anonymous mappings (the Go heap) per MiB to PE-heapmap-WHEN.txt, so
// that a growth the classes do not explain can be placed in a mapping,
// and within the heap in the MiBs that grew.
func (r *run) saveMemoryMaps(when string) {
	for i, pe := range []*pelab.PE{r.e.PE1, r.e.PE2} {
		pid := pe.Proc.Pid()
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
		if err != nil {
			r.event("%s: smaps: %v", pe.Name, err)
			continue
		}
		_ = os.WriteFile(filepath.Join(r.out, PEs[i]+"-smaps-"+when+".txt"), b, 0o644)
		maps, err := ReadResidency(pid)
		if err != nil {
			r.event("%s: pagemap: %v", pe.Name, err)
			continue
		}
		var text bytes.Buffer
		_ = WriteResidency(&text, maps)
		_ = os.WriteFile(filepath.Join(r.out, PEs[i]+"-heapmap-"+when+".txt"), text.Bytes(), 0o644)
	}
}

func (r *run) flapper(end time.Time) {
	defer r.wg.Done()
	added := false
	// A quarter period off the sampler's ticks, so that samples fall
	// between a flap's add and its withdrawal, not on them.
	every(r.begin.Add(flapPeriod/4), end, flapPeriod/2, func(time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), flapPeriod)
		defer cancel()
		start := time.Now()
		var err error
		if added {
			err = r.flap.Withdraw(ctx)
		} else {
			err = r.flap.Add(ctx)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.flapKO = append(r.flapKO, err.Error())
			return
		}
		if added {
			r.flaps++ // a flap: added, then withdrawn
		}
		added = !added
		if took := time.Since(start); took > flapPeriod/4 {
			r.events = append(r.events, fmt.Sprintf("%8.1fs slow flap: %v", time.Since(r.begin).Seconds(), took))
		}
	})
	if added {
		ctx, cancel := context.WithTimeout(context.Background(), flapPeriod)
		defer cancel()
		_ = r.flap.Withdraw(ctx)
	}
}

func (r *run) reloader(end time.Time) {
	defer r.wg.Done()
	green := false
	every(r.begin, end, reloadEvery, func(time.Duration) {
		cfg := r.e.Cfg1
		if !green {
			cfg = strings.Replace(cfg, "vrfs:\n", "vrfs:"+greenVRF, 1)
		}
		err := r.e.PE1.TryReload(cfg)
		r.mu.Lock()
		r.reloads++
		if err != nil {
			r.refused = append(r.refused, err.Error())
		} else {
			green = !green
		}
		r.mu.Unlock()
		r.event("reload: green %v: %v", green, err)
	})
}

// wait waits for the pings and every goroutine.
func (r *run) wait() {
	r.wg.Wait()
	for _, p := range r.iperfs {
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
		}
	}
}

// iperfRate reads an iperf3 -J log's received bit rate, or why there is
// none.
func iperfResult(p *netns.Process) string {
	b, err := os.ReadFile(p.LogPath())
	if err != nil {
		return err.Error()
	}
	var res struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				Seconds float64 `json:"seconds"`
				Bits    float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if i := strings.IndexByte(string(b), '{'); i >= 0 {
		b = b[i:]
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Sprintf("no result (%v)", err)
	}
	if res.Error != "" {
		return "error: " + res.Error
	}
	return fmt.Sprintf("%.1f Mbit/s over %.0f s", res.End.SumReceived.Bits/1e6, res.End.SumReceived.Seconds)
}
