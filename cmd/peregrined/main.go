// Command peregrined is the Peregrine PE router daemon.
//
//	peregrined -c /etc/peregrine/peregrined.yml    run
//	peregrined -check -c FILE                      validate FILE and exit
//	peregrined -c FILE -state-dir DIR              run, with state.directory DIR
//
// Signals: SIGINT and SIGTERM shut down cleanly (exit 0); SIGHUP reloads the
// configuration file, and a file that fails to load is reported and ignored:
// the running configuration stays.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/bgpconfig"
	"github.com/peregrine-net/peregrine/cmd/internal/memtrim"
	"github.com/peregrine-net/peregrine/config"
)

const defaultConfigPath = "/etc/peregrine/peregrined.yml"

func main() {
	memtrim.ApplyGCPercent(os.LookupEnv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status, so tests can
// drive it. Exit 0: clean shutdown or a valid -check; 1: bad configuration;
// 2: bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("peregrined", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", defaultConfigPath, "configuration `file` (YAML)")
	check := fs.Bool("check", false, "validate the configuration file and exit")
	socket := fs.String("s", "", "control `socket`, overriding control.socket (a lab runs several daemons on one filesystem)")
	stateDir := fs.String("state-dir", "", "state `directory`, overriding state.directory (each daemon of a lab needs its own)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *stateDir != "" && !filepath.IsAbs(*stateDir) {
		fmt.Fprintf(stderr, "peregrined: -state-dir %q: want an absolute path\n", *stateDir)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "peregrined: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	cfg, err := config.Load(*path)
	if err != nil {
		reportConfigError(stderr, *path, err)
		return 1
	}
	if *socket != "" {
		cfg.Control.Socket = *socket
	}
	if *stateDir != "" {
		cfg.State.Directory = *stateDir
	}
	if *check {
		if err := bgp.CheckRunnable(bgpconfig.Translate(cfg)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", *path, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *path)
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	d := newDaemon(*path, cfg, stderr)
	d.socket, d.stateDir = *socket, *stateDir
	return d.run(ctx, hup)
}

// reportConfigError prints one line per bad field, prefixed by the file name
// so the output reads like a compiler's.
func reportConfigError(w io.Writer, path string, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(w, "%s: %v\n", path, e)
		}
		return
	}
	fmt.Fprintf(w, "peregrined: %v\n", err)
}

// newLogger builds the daemon's logger; level is shared so that a reload can
// change it without replacing the handler.
func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
