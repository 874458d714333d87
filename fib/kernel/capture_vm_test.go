package kernel

// Frames captured in the VM's namespaces, and the ESP among them: what
// the daemon tests read off the core to show that it carries ESP and
// never a label in clear.

import (
	"encoding/binary"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// espAt is where the ESP header starts in an ESP-in-UDP frame's L3 bytes
// (outer IPv4 and UDP headers in front).
const espAt = 28

// espOnCore returns the ESP-in-UDP packets among frames (their L3 bytes,
// ESP at espAt; IKE's non-ESP marker, SPI 0, left out) and fails the test
// for every MPLS frame: labels must never cross the core in clear.
func espOnCore(t *testing.T, what string, frames []frame) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range frames {
		switch {
		case f.proto == unix.ETH_P_MPLS_UC:
			t.Errorf("%s: an MPLS frame in clear on the core: % x", what, f.data[:min(len(f.data), 24)])
		case f.proto == unix.ETH_P_IP && len(f.data) > espAt+8 && f.data[9] == unix.IPPROTO_UDP &&
			binary.BigEndian.Uint16(f.data[22:24]) == 4500 && binary.BigEndian.Uint32(f.data[espAt:]) != 0:
			out = append(out, f.data)
		}
	}
	return out
}

// frame is one captured frame: its EtherType and its L3 bytes.
type frame struct {
	proto uint16
	data  []byte
}

// captureCore returns every frame arriving on ifName in ns while f runs
// and for 200 ms after.
func captureCore(t *testing.T, ns netns.NsHandle, ifName string, f func()) []frame {
	t.Helper()
	return captureFrames(t, ns, ifName, false, f)
}

// captureFrames is captureCore that, with outgoing, keeps the frames
// ifName sends too.
func captureFrames(t *testing.T, ns netns.NsHandle, ifName string, outgoing bool, f func()) []frame {
	t.Helper()
	fd := packetSocket(t, ns, ifName, unix.ETH_P_ALL)
	defer unix.Close(fd)
	f()
	tv := unix.Timeval{Usec: 200000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	var out []frame
	for {
		buf := make([]byte, 2000)
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return out
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING && !outgoing {
			continue
		}
		out = append(out, frame{proto: htons(ll.Protocol), data: buf[:n]})
	}
}

// rawESPAt is where the ESP header starts in a raw ESP frame's L3 bytes
// (an outer IPv4 header in front).
const rawESPAt = 20

// rawESPOnCore is espOnCore for ESP as IP protocol 50 over IPv4 (the
// kernel path's): the packets (ESP at rawESPAt), every one from the peer
// as the capture keeps only incoming frames; MPLS in clear, in Ethernet or
// in IP (protocol 137), fails the test.
func rawESPOnCore(t *testing.T, what string, frames []frame) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range frames {
		switch {
		case mplsInClear(f):
			t.Errorf("%s: MPLS in clear on the core: % x", what, f.data[:min(len(f.data), 28)])
		case f.proto == unix.ETH_P_IP && len(f.data) >= rawESPAt+8 && f.data[9] == unix.IPPROTO_ESP:
			out = append(out, f.data)
		}
	}
	return out
}

// mplsInClear reports whether f is MPLS unprotected: a labelled frame,
// or MPLS in IPv4 (protocol 137, the kernel path's mplsip) not in ESP.
func mplsInClear(f frame) bool {
	return f.proto == unix.ETH_P_MPLS_UC || f.proto == unix.ETH_P_IP && len(f.data) > 20 && f.data[9] == ipProtoMPLS
}
