package esptransport

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

var loopback4 = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)

// TestGroupSpreadsBySPI: the kernel, running the group's BPF program,
// hands each SPI to socket SPI mod n, and IKE (the non-ESP marker) and
// keepalives to socket 0, whatever the sender's port.
func TestGroupSpreadsBySPI(t *testing.T) {
	const n = 3
	conns, err := listenGroup(loopback4, n)
	if err != nil {
		t.Skipf("no SO_REUSEPORT group with a BPF program here: %v", err)
	}
	for _, c := range conns {
		defer c.Close()
	}
	at := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	for _, c := range conns[1:] {
		if p := c.LocalAddr().(*net.UDPAddr).AddrPort(); p != at {
			t.Fatalf("group sockets on %v and %v", at, p)
		}
	}
	tx, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback4))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	send := func(p []byte) {
		if _, err := tx.WriteToUDPAddrPort(p, at); err != nil {
			t.Fatal(err)
		}
	}
	want := make([][]uint32, n)
	for spi := uint32(0x1000); spi < 0x1000+4*n; spi++ {
		p := make([]byte, 64)
		binary.BigEndian.PutUint32(p, spi)
		send(p)
		want[SocketForSPI(spi, n)] = append(want[SocketForSPI(spi, n)], spi)
	}
	send(make([]byte, 40)) // IKE: non-ESP marker
	send([]byte{0xff})     // NAT-keepalive
	want[0] = append(want[0], 0, 0xff)
	buf := make([]byte, 2048)
	for i, c := range conns {
		var got []uint32
		for {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			k, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			if k < 4 {
				got = append(got, uint32(buf[0]))
				continue
			}
			got = append(got, binary.BigEndian.Uint32(buf))
		}
		if len(got) != len(want[i]) {
			t.Errorf("socket %d received %#x, want %#x", i, got, want[i])
			continue
		}
		for j := range got {
			if got[j] != want[i][j] {
				t.Errorf("socket %d received %#x, want %#x", i, got, want[i])
				break
			}
		}
	}
}

// TestGroupPortInUse: a port another socket holds is refused, group or
// not: a second Sockets cannot join the first's group.
func TestGroupPortInUse(t *testing.T) {
	conns, err := listenGroup(loopback4, 2)
	if err != nil {
		t.Skipf("no SO_REUSEPORT group here: %v", err)
	}
	for _, c := range conns {
		defer c.Close()
	}
	at := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	for _, n := range []int{1, 2} {
		if more, err := listenGroup(at, n); !errors.Is(err, syscall.EADDRINUSE) {
			for _, c := range more {
				c.Close()
			}
			t.Errorf("group of %d on a held port: %v, want EADDRINUSE", n, err)
		}
	}
}

func TestSocketForSPI(t *testing.T) {
	for _, c := range []struct {
		spi  uint32
		n    int
		want int
	}{{0x1001, 1, 0}, {0x1001, 2, 1}, {0x1002, 2, 0}, {0xffffffff, 4, 3}, {7, 0, 0}} {
		if got := SocketForSPI(c.spi, c.n); got != c.want {
			t.Errorf("SocketForSPI(%#x, %d) = %d, want %d", c.spi, c.n, got, c.want)
		}
	}
}
