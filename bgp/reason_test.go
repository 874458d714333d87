package bgp

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// dialErr wraps errno as net.Dial does.
func dialErr(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
}

func TestNeighborDiagReasons(t *testing.T) {
	v6, v4 := netip.MustParseAddr("fd00::2"), netip.MustParseAddr("10.0.0.2")
	both := []string{"0.0.0.0", "::"}
	for _, tc := range []struct {
		name   string
		listen []string
		addr   netip.Addr
		err    error
		want   string
	}{
		{"refused", both, v6, dialErr(syscall.ECONNREFUSED), "connection refused: nothing listens"},
		{"no route", both, v6, dialErr(syscall.ENETUNREACH), "network unreachable: no route to the neighbor"},
		{"host unreachable", both, v4, dialErr(syscall.EHOSTUNREACH), "no route to host"},
		{"local address", both, v4, dialErr(syscall.EADDRNOTAVAIL), "local address not available"},
		{"timeout", both, v4, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, "connect timed out"},
		{"other errno", both, v4, dialErr(syscall.EPERM), "operation not permitted"},
		{"no IPv6 listener", []string{"0.0.0.0"}, v6, dialErr(syscall.ECONNREFUSED),
			"connection refused: nothing listens on the neighbor's BGP port for this address; and no IPv6 listener here (listening on [0.0.0.0])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newNeighborDiag(slog.New(slog.NewTextHandler(io.Discard, nil)), tc.listen)
			d.configure(tc.addr, false)
			d.gobgpDebug("failed to connect", gobgplog.Fields{"Topic": "Peer", "Key": tc.addr.String(), "Error": tc.err})
			if got := d.reason(tc.addr); !strings.Contains(got, tc.want) {
				t.Errorf("reason = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestNeighborDiagLifecycle(t *testing.T) {
	var log strings.Builder
	d := newNeighborDiag(slog.New(slog.NewTextHandler(&log, nil)), []string{"0.0.0.0"})
	v4, v6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")
	if d.capturing() {
		t.Error("capturing with no neighbor")
	}
	d.configure(v4, false)
	d.configure(v6, true)
	if !d.capturing() {
		t.Error("not capturing with two neighbors down")
	}
	if got := d.reason(v6); !strings.Contains(got, "no IPv6 listener here") {
		t.Errorf("passive IPv6 neighbor without an IPv6 listener: reason %q", got)
	}
	refused := gobgplog.Fields{"Key": "10.0.0.2", "Error": dialErr(syscall.ECONNREFUSED)}
	d.gobgpDebug("failed to connect", refused)
	d.gobgpDebug("failed to connect", refused)
	d.gobgpDebug("try to connect", gobgplog.Fields{"Key": "10.0.0.2"})
	d.gobgpDebug("failed to connect", gobgplog.Fields{"Key": "10.0.0.9", "Error": dialErr(syscall.ECONNREFUSED)}) // not configured
	if n := strings.Count(log.String(), "neighbor cannot connect"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, log.String())
	}
	d.peerEvent(&api.Peer{Conf: &api.PeerConf{NeighborAddress: "10.0.0.2"}, State: &api.PeerState{SessionState: api.PeerState_ESTABLISHED}})
	if got := d.reason(v4); got != "" {
		t.Errorf("established neighbor's reason %q", got)
	}
	d.remove(v6)
	if d.capturing() {
		t.Error("capturing with every configured neighbor up")
	}
	d.peerEvent(&api.Peer{Conf: &api.PeerConf{NeighborAddress: "10.0.0.2"}, State: &api.PeerState{SessionState: api.PeerState_ACTIVE}})
	if !d.capturing() {
		t.Error("not capturing after the session went down")
	}
	d.gobgpDebug("failed to connect", refused)
	if n := strings.Count(log.String(), "neighbor cannot connect"); n != 2 {
		t.Errorf("after going down again, logged %d times in all, want 2", n)
	}
}
