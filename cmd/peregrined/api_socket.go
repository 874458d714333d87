package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/peregrine-net/peregrine/config"
)

// socketMode is the control socket's mode: the daemon's user and the
// control.socket-group may connect, nobody else.
const socketMode = 0o660

// listenControl creates the control socket with its final mode and group
// before anyone can reach it: it binds in a fresh directory only the
// daemon's user can enter, sets mode 0660 and the group there, and only
// then renames it to control.socket. Binding at the final path and
// chmod'ing afterwards would leave the socket open to every local user
// (mode 0777 minus the umask) between the two calls.
func listenControl(ctl config.Control) (*net.UnixListener, error) {
	path := ctl.Socket
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("control.socket: %w", err)
	}
	// A socket left by a killed daemon would be replaced; a live daemon on
	// it answers a dial, so only replace one nobody answers.
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("control.socket %s: another peregrined is listening", path)
	}
	private, err := os.MkdirTemp(dir, ".peregrined-sock-")
	if err != nil {
		return nil, fmt.Errorf("control.socket: %w", err)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control.socket: %w", err)
	}
	l.SetUnlinkOnClose(false) // the socket is renamed; closeControl removes it
	fail := func(err error) (*net.UnixListener, error) {
		l.Close()
		return nil, err
	}
	if err := os.Chmod(tmp, socketMode); err != nil {
		return fail(fmt.Errorf("control.socket: %w", err))
	}
	if ctl.SocketGID >= 0 {
		if err := os.Lchown(tmp, -1, ctl.SocketGID); err != nil {
			return fail(fmt.Errorf("control.socket-group %q: %w", ctl.SocketGroup, err))
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("control.socket: %w", err))
	}
	return l, nil
}
