package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/peregrine-net/peregrine/config"
)

// daemon holds the running configuration. One goroutine (run) owns it: signal
// handling and reloads happen there, so no lock is needed.
type daemon struct {
	path  string
	cfg   *config.Config
	level *slog.LevelVar
	log   *slog.Logger
}

func newDaemon(path string, cfg *config.Config, logOut io.Writer) *daemon {
	d := &daemon{path: path, cfg: cfg, level: new(slog.LevelVar)}
	d.level.Set(parseLevel(cfg.Log.Level))
	d.log = newLogger(logOut, cfg.Log.Format, d.level)
	return d
}

// run serves until ctx is cancelled (SIGINT/SIGTERM) and returns the exit
// status. Each value on hup reloads the configuration file.
func (d *daemon) run(ctx context.Context, hup <-chan os.Signal) int {
	d.log.Info("peregrined started", "config", d.path, "router-id", d.cfg.Router.ID, "asn", d.cfg.Router.ASN, "pid", os.Getpid())
	for {
		select {
		case <-ctx.Done():
			d.log.Info("peregrined stopping", "reason", "signal")
			return 0
		case <-hup:
			d.reload()
		}
	}
}

// reload replaces the running configuration with the file's, or keeps the
// running one and logs every error if the file is bad.
func (d *daemon) reload() {
	cfg, err := config.Load(d.path)
	if err != nil {
		d.log.Error("reload refused, running configuration kept", "config", d.path, "error", err)
		return
	}
	if cfg.Log.Format != d.cfg.Log.Format {
		d.log.Warn("log.format changes take effect on restart", "running", d.cfg.Log.Format, "file", cfg.Log.Format)
	}
	d.level.Set(parseLevel(cfg.Log.Level))
	d.cfg = cfg
	d.log.Info("configuration reloaded", "config", d.path)
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo // unreachable: config validated the level
	}
	return l
}
