package main

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/peregrine-net/peregrine/config"
)

// TestControlSocketModeAndGroup creates the control socket over and over
// while another goroutine watches its path: the socket must never be seen
// with a mode other than 0660, and after each start it must carry the
// configured group and answer.
func TestControlSocketModeAndGroup(t *testing.T) {
	dir := t.TempDir()
	ctl := config.Control{Socket: filepath.Join(dir, "run", "pe.sock"), SocketGID: -1}
	wantGID := os.Getegid()
	if os.Geteuid() == 0 {
		ctl.SocketGroup, ctl.SocketGID, wantGID = "65534", 65534, 65534
	}
	var stop atomic.Bool
	var seenBad atomic.Uint32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if st, err := os.Lstat(ctl.Socket); err == nil && st.Mode().Perm() != socketMode {
				seenBad.Store(uint32(st.Mode().Perm()) | 1<<31)
			}
		}
	}()
	for range 300 {
		l, err := listenControl(ctl)
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		st, err := os.Lstat(ctl.Socket)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != socketMode || int(sys.Gid) != wantGID {
			t.Fatalf("socket %s: mode %v gid %d, want socket 0660 gid %d", ctl.Socket, st.Mode(), sys.Gid, wantGID)
		}
		l.Close()
		_ = os.Remove(ctl.Socket)
	}
	stop.Store(true)
	wg.Wait()
	if v := seenBad.Load(); v != 0 {
		t.Errorf("the socket was visible with mode %04o", v&^(1<<31))
	}
	if ents, _ := os.ReadDir(filepath.Dir(ctl.Socket)); len(ents) != 0 {
		t.Errorf("left behind in the socket's directory: %v", ents)
	}
}

// TestControlSocketStaleAndLive: a socket nobody answers on is replaced; a
// live one is refused.
func TestControlSocketStaleAndLive(t *testing.T) {
	ctl := config.Control{Socket: filepath.Join(t.TempDir(), "pe.sock"), SocketGID: -1}
	live, err := listenControl(ctl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(ctl); err == nil {
		t.Fatal("a second daemon took over a live control socket")
	}
	live.Close() // leaves the file: a killed daemon's socket
	l, err := listenControl(ctl)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("unix", ctl.Socket)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
}
