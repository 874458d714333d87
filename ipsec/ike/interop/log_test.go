package interop

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// slogT logs through t.Logf until the test ends.
func slogT(t *testing.T) *slog.Logger {
	w := &tw{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tw struct {
	t    *testing.T
	done atomic.Bool
}

func (w *tw) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
