package main

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/fibfeed"
	"github.com/peregrine-net/peregrine/cmd/internal/memtrim"
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/keying"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
)

// daemon holds the running configuration. One goroutine (run) owns it: signal
// handling and reloads happen there, so no lock is needed.
type daemon struct {
	path string
	// socket overrides control.socket, in the first config and on reload
	// (peregrined -s); stateDir overrides state.directory the same way
	// (peregrined -state-dir).
	socket   string
	stateDir string
	cfg      *config.Config
	level    *slog.LevelVar
	log      *slog.Logger

	speaker *bgp.Speaker
	api     *apiServer
	events  chan bgp.Event
	fib     *fib.Reconciler // nil with dataplane backend "none"
	backend fib.Backend
	// keying owns the FIB's configuration: the file's static part, at
	// start and on reload, merged with the IKE peers' tunnels.
	keying *keying.Service
	// stopConnected ends the interface-address watch of the running
	// configuration; a reload restarts it with the new VRF interfaces.
	stopConnected context.CancelFunc
}

func newDaemon(path string, cfg *config.Config, logOut io.Writer) *daemon {
	d := &daemon{path: path, cfg: cfg, level: new(slog.LevelVar), events: make(chan bgp.Event, 4096)}
	d.level.Set(parseLevel(cfg.Log.Level))
	d.log = newLogger(logOut, cfg.Log.Format, d.level)
	return d
}

// run starts the control plane, serves until ctx is cancelled (SIGINT or
// SIGTERM) and returns the exit status. Each value on hup reloads the
// configuration file.
func (d *daemon) run(ctx context.Context, hup <-chan os.Signal) int {
	d.log.Info("peregrined starting", "config", d.path, "router-id", d.cfg.Router.ID, "asn", d.cfg.Router.ASN, "pid", os.Getpid())
	hook := &nattHook{}
	// Closed after the backend (defers run last first): no SA seals then.
	seqs := seqstore.Open(d.cfg.State.Directory, d.log.With("component", "seqstore"), seqstore.Options{})
	defer seqs.Close()
	r, b, natt, err := startFIB(ctx, d.cfg, d.log, hook, seqs)
	if err != nil {
		d.log.Error("dataplane did not start", "error", err)
		return 1
	}
	d.fib, d.backend = r, b
	if b != nil {
		defer func() {
			_ = r.Close()
			if err := b.Close(); err != nil {
				d.log.Warn("dataplane close", "error", err)
			}
		}()
	}
	ilog := d.log.With("component", "ike")
	runner, err := newIKERunner(d.cfg, ilog, natt, hook)
	if err != nil {
		d.log.Error("ike did not start", "error", err)
		return 1
	}
	feed := newAttachedFeed()
	d.keying = newKeying(d.cfg, ilog, r, b, runner, feed.set)
	go func() { _ = d.keying.Run(ctx) }()
	d.keying.SetStatic(fibConfig(d.cfg))
	if runner != nil {
		go func() { _ = runner.Run(ctx) }()
	}
	go fibfeed.Run(d.events, fibSink(d.fib), d.log)
	sp, err := bgp.Start(ctx, bgpConfig(d.cfg, d.backend), d.log, d.events)
	if err != nil {
		d.log.Error("bgp did not start", "error", err)
		return 1
	}
	d.speaker = sp
	defer sp.Stop()
	go feed.run(ctx, sp, d.log.With("component", "attachments"))
	dp := newDataplane(d.fib, d.backend)
	dp.attachments = configuredAttachments(d.cfg)
	if d.cfg.Control.Socket != "" {
		a, err := startAPI(d.cfg.Control, sp, dp, d.log)
		if err != nil {
			d.log.Error("local API did not start", "error", err)
			return 1
		}
		d.api = a
		defer a.close()
	}
	if d.cfg.Metrics.Listen != "" {
		m, err := startMetrics(d.cfg.Metrics.Listen, &collector{speaker: sp, ce: sp, dp: dp}, d.log)
		if err != nil {
			d.log.Error("metrics did not start", "error", err)
			return 1
		}
		defer m.Close()
	}
	d.watchConnected(ctx)
	go memtrim.New(d.log, os.LookupEnv).Run(ctx)
	d.log.Info("peregrined started", "bgp-api", d.cfg.BGP.API, "bgp-api-write", d.cfg.BGP.APIWrite, "control", d.cfg.Control.Socket, "gogc", memtrim.GCPercent())
	for {
		select {
		case <-ctx.Done():
			d.log.Info("peregrined stopping", "reason", "signal")
			if d.stopConnected != nil {
				d.stopConnected()
			}
			return 0
		case <-hup:
			d.reload(ctx)
		}
	}
}

// watchConnected (re)starts feeding the VRFs' connected prefixes to BGP.
func (d *daemon) watchConnected(ctx context.Context) {
	if d.stopConnected != nil {
		d.stopConnected()
	}
	ifaces := map[string]string{}
	for _, v := range d.cfg.VRFs {
		for _, ifn := range v.Interfaces {
			ifaces[ifn] = v.Name
		}
	}
	if len(ifaces) == 0 {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	d.stopConnected = cancel
	sp, r, cfg := d.speaker, d.fib, d.cfg
	err := fib.WatchConnected(wctx, d.log, ifaces, func(vrf string, conns []fib.Connected) {
		prefixes := connectedPrefixes(conns)
		d.log.Info("connected prefixes", "vrf", vrf, "prefixes", prefixes)
		for _, e := range cfg.CheckCEOnLink(vrf, prefixes) {
			d.log.Warn("CE neighbor not on link; its session is not started until it is", "error", e)
		}
		if r != nil {
			r.SetConnected(vrf, conns)
		}
		if err := sp.SetConnected(wctx, vrf, bgpConnected(conns)); err != nil {
			d.log.Warn("export connected prefixes", "vrf", vrf, "error", err)
		}
	})
	if err != nil {
		d.log.Warn("cannot watch interface addresses; connected prefixes are not exported", "error", err)
	}
	if r == nil {
		return
	}
	// Linux drops our routes through an interface set down; when it is
	// up again, put them back.
	links := slices.Concat(slices.Sorted(maps.Keys(ifaces)), cfg.Dataplane.MPLSInterfaces)
	err = fib.WatchLinksUp(wctx, d.log, links, func(name string) {
		d.log.Info("interface up again; applying the forwarding state again", "interface", name)
		r.Reapply()
	})
	if err != nil {
		d.log.Warn("cannot watch interfaces; routes through one set down and up stay gone until the next change", "error", err)
	}
}

// reload replaces the running configuration with the file's, or keeps the
// running one and logs every error if the file is bad or cannot be applied.
func (d *daemon) reload(ctx context.Context) {
	cfg, err := config.Load(d.path)
	if err != nil {
		d.log.Error("reload refused, running configuration kept", "config", d.path, "error", err)
		return
	}
	if d.socket != "" {
		cfg.Control.Socket = d.socket
	}
	if d.stateDir != "" {
		cfg.State.Directory = d.stateDir
	}
	if err := restartNeeded(d.cfg, cfg, dataplaneOf(d.backend)); err != nil {
		d.log.Error("reload refused, running configuration kept", "config", d.path, "error", err)
		return
	}
	if err := d.speaker.Reload(ctx, bgpConfig(cfg, d.backend)); err != nil {
		d.log.Error("reload refused, running configuration kept", "config", d.path, "error", err)
		return
	}
	d.keying.SetStatic(fibConfig(cfg))
	if cfg.Log.Format != d.cfg.Log.Format {
		d.log.Warn("log.format changes take effect on restart", "running", d.cfg.Log.Format, "file", cfg.Log.Format)
	}
	d.level.Set(parseLevel(cfg.Log.Level))
	d.cfg = cfg
	d.watchConnected(ctx)
	d.log.Info("configuration reloaded", "config", d.path)
}

// newKeying is the keying service over the FIB r (nil with backend
// "none"), enforcing byte and sequence limits from b's counters where it
// counts, and keying runner's child SAs (runner nil without IKE peers).
func newKeying(cfg *config.Config, log *slog.Logger, r *fib.Reconciler, b fib.Backend, runner *ike.Runner, attached func(map[string][]netip.Prefix)) *keying.Service {
	opts := keying.Options{Logger: log, Remotes: keying.Remotes(cfg), ReplayWindow: cfg.IPsec.ReplayWindow,
		Attachments: keying.Attachments(cfg), OnAttached: attached}
	if r != nil {
		opts.FIB = r
	}
	if c, ok := b.(fib.Counterer); ok {
		opts.Counters = c
	}
	if runner != nil {
		opts.Control = keying.RunnerControl(runner)
	}
	s := keying.New(opts)
	if runner != nil {
		s.Watch(runner)
	}
	return s
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo // unreachable: config validated the level
	}
	return l
}
