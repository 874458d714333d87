package interop

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// slogTo logs through t.Logf until the test ends and also appends every
// line to rec, when not nil, so a test can search what was logged.
func slogTo(t *testing.T, rec *logRecorder) *slog.Logger {
	w := &tw{t: t, rec: rec}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tw struct {
	t    *testing.T
	rec  *logRecorder
	done atomic.Bool
}

// logRecorder keeps a copy of a logger's output.
type logRecorder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

func (w *tw) Write(p []byte) (int, error) {
	if w.rec != nil {
		w.rec.mu.Lock()
		w.rec.b.Write(p)
		w.rec.mu.Unlock()
	}
	if !w.done.Load() {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
