package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// slogAdapter lets GoBGP log through the daemon's slog.Logger. GoBGP logs
// peer configurations in places; every field value passes through scrub, which
// replaces any configured password with "<redacted>" so that a TCP MD5 secret
// never reaches a log line.
type slogAdapter struct {
	log     *slog.Logger
	secrets atomic.Pointer[[]string]
	diag    *neighborDiag  // sees GoBGP's connect errors; set before GoBGP starts
	falls   *gracefulFalls // sees GoBGP's graceful-restart falls (grholdwatch.go)
}

var _ gobgplog.Logger = (*slogAdapter)(nil)

func newSlogAdapter(l *slog.Logger) *slogAdapter {
	a := &slogAdapter{log: l.With("component", "gobgp")}
	a.setSecrets(nil)
	return a
}

func (a *slogAdapter) setSecrets(s []string) {
	var keep []string
	for _, v := range s {
		if v != "" {
			keep = append(keep, v)
		}
	}
	a.secrets.Store(&keep)
}

func (a *slogAdapter) scrub(s string) string {
	for _, secret := range *a.secrets.Load() {
		s = strings.ReplaceAll(s, secret, "<redacted>")
	}
	return s
}

func (a *slogAdapter) emit(level slog.Level, msg string, fields gobgplog.Fields) {
	if !a.log.Enabled(context.Background(), level) {
		return
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		if k == gobgplog.FieldFacility {
			continue
		}
		attrs = append(attrs, slog.String(k, a.scrub(fmt.Sprint(fields[k]))))
	}
	a.log.Log(context.Background(), level, a.scrub(msg), attrs...)
}

func (a *slogAdapter) Panic(msg string, f gobgplog.Fields) { a.emit(slog.LevelError+4, msg, f) }
func (a *slogAdapter) Fatal(msg string, f gobgplog.Fields) { a.emit(slog.LevelError+4, msg, f) }
func (a *slogAdapter) Error(msg string, f gobgplog.Fields) { a.emit(slog.LevelError, msg, f) }
func (a *slogAdapter) Warn(msg string, f gobgplog.Fields) {
	a.emit(slog.LevelWarn, msg, f)
}
func (a *slogAdapter) Info(msg string, f gobgplog.Fields) {
	if a.falls != nil {
		a.falls.gobgpInfo(msg, f)
	}
	a.emit(slog.LevelInfo, msg, f)
}
func (a *slogAdapter) Debug(msg string, f gobgplog.Fields) {
	if a.diag != nil {
		a.diag.gobgpDebug(msg, f)
	}
	a.emit(slog.LevelDebug, msg, f)
}

// SetLevel is ignored: the daemon's slog level governs.
func (a *slogAdapter) SetLevel(gobgplog.LogLevel) {}

// GetLevel tells GoBGP whether to bother building debug messages: when the
// daemon logs at debug, and while a neighbor is down, whose connect errors
// GoBGP reports at debug level only (neighborDiag).
func (a *slogAdapter) GetLevel() gobgplog.LogLevel {
	if a.log.Enabled(context.Background(), slog.LevelDebug) || (a.diag != nil && a.diag.capturing()) {
		return gobgplog.DebugLevel
	}
	return gobgplog.InfoLevel
}
