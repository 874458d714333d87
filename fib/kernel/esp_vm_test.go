package kernel

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// espConfig adds manually keyed ESP-in-UDP between the PEs to
// peregrinedConfig: %[7]s and %[8]s are the key files (out, in), %[9]d and
// %[10]d the SPIs (out, in), %[3]s the remote PE.
const espConfig = `ipsec:
  local-address: %[1]s
  encapsulation: udp
  tunnels:
    - remote: %[3]s
      out: {spi: %[9]d, cipher: aes128gcm16, key-file: %[7]s}
      in: {spi: %[10]d, cipher: aes128gcm16, key-file: %[8]s}
`

// Two keys, 16 bytes of AES-128 and a 4-byte salt each.
const (
	keyPE1toPE2 = "257806ce393154e95a0a7a66cd457d085945ae20"
	keyPE2toPE1 = "7e2d0b39cf1aa45e66c2d2c4fe37e9d3a81c5b0f"
)

// TestPeregrinedWithKernelBackendAndESP: the CE - PE1 - PE2 - CE topology
// of TestPeregrinedWithKernelBackend with IPsec configured: the kernel
// keeps the VRFs and labels, the ESP gateway seals and opens. Pings cross
// in both VRFs and directions; the core carries ESP and not one MPLS frame
// in clear; the ESP packets, opened with the key from the config, hold the
// label stacks (a distinct label for red and blue).
func TestPeregrinedWithKernelBackendAndESP(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	k12, k21 := filepath.Join(dir, "pe1-pe2.key"), filepath.Join(dir, "pe2-pe1.key")
	for path, key := range map[string]string{k12: keyPE1toPE2, k21: keyPE2toPE1} {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := func(id string, sock string, peer string, n int, ifRed, ifBlue, out, in string, outSPI, inSPI int) string {
		return fmt.Sprintf(peregrinedConfig+espConfig, id, filepath.Join(dir, sock), peer, n, ifRed, ifBlue, out, in, outSPI, inSPI)
	}
	startPeregrined(t, n.pe1, "pe1", conf("192.168.0.1", "pe1.sock", "192.168.0.2", 1, "ce1", "ce2", k12, k21, 1002, 2001))
	startPeregrined(t, n.pe2, "pe2", conf("192.168.0.2", "pe2.sock", "192.168.0.1", 2, "ce3", "ce4", k21, k12, 2001, 1002))
	n.pingAll(t, 31, 60*time.Second, true)
	red1, blue1, pe2 := n.red1, n.blue1, n.pe2

	key, _ := hex.DecodeString(keyPE1toPE2)
	labels := map[string]int{}
	for i, c := range []struct {
		vrf string
		ns  netns.NsHandle
	}{{"red", red1}, {"blue", blue1}} {
		frames := captureCore(t, pe2, "core", func() {
			if err := ping(c.ns, "10.2.0.2", uint16(40+i)); err != nil {
				t.Errorf("%s: %v", c.vrf, err)
			}
		})
		esps := 0
		for _, pkt := range espOnCore(t, c.vrf, frames) {
			if binary.BigEndian.Uint32(pkt[espAt:]) != 1002 {
				continue
			}
			esps++
			sa, err := esp.NewSA(esp.Config{SPI: 1002, Cipher: esp.AES128GCM16, Key: key, NoAntiReplay: true})
			if err != nil {
				t.Fatal(err)
			}
			payload, nh, err := sa.Open(pkt, espAt, len(pkt)-espAt)
			if err != nil {
				t.Errorf("%s: opening an ESP packet from pe1 with pe1's key: %v", c.vrf, err)
				continue
			}
			if nh != esp.NextHeaderMPLS || len(payload) < 4+20 || payload[2]&1 == 0 || payload[4]>>4 != 4 {
				t.Errorf("%s: ESP payload is not one label over IPv4: next header %d, % x", c.vrf, nh, payload[:min(len(payload), 8)])
				continue
			}
			labels[c.vrf] = int(binary.BigEndian.Uint32(payload) >> 12)
		}
		if esps == 0 {
			t.Errorf("%s: no ESP packet from pe1 (SPI 1002) on the core during a ping", c.vrf)
		}
	}
	if labels["red"] < 16 || labels["blue"] < 16 || labels["red"] == labels["blue"] {
		t.Errorf("labels inside ESP: red %d, blue %d; want two distinct allocated labels", labels["red"], labels["blue"])
	}

	// Path MTU: the gateway's TUNs leave room for ESP (dataplane.mtu
	// 1400 under two labels), and the kernel answers a larger packet
	// that must not be fragmented from inside the VRF.
	if typ, _, _, err := probe(red1, "10.2.0.2", 61, 1400); err != nil || typ != 0 {
		t.Errorf("a 1400-byte DF echo: ICMP type %d, %v; want an echo reply", typ, err)
	}
	if typ, code, mtu, err := probe(blue1, "10.2.0.2", 62, 1450); err != nil || typ != 3 || code != 4 || mtu != 1404 {
		t.Errorf("a 1450-byte DF echo: ICMP type %d code %d mtu %d, %v; want fragmentation needed, mtu 1404 (1408 less one label)", typ, code, mtu, err)
	}

	// What an operator sees: the gateway's TUNs with their counters, the
	// VRF devices, the SAs' counters, and no key.
	body := apiGet(t, filepath.Join(dir, "pe1.sock"), "/v1/interfaces")
	var ifs []struct {
		Name, Kind, State string
		Counters          *struct {
			OutPackets uint64 `json:"out-packets"`
			InPackets  uint64 `json:"in-packets"`
		}
	}
	if err := json.Unmarshal(body, &ifs); err != nil {
		t.Fatalf("/v1/interfaces: %v: %s", err, body)
	}
	seen := map[string]bool{}
	for _, i := range ifs {
		seen[i.Kind+" "+i.Name] = true
		switch {
		case i.Kind == "esp" && i.Name == "pgesp-in" && (i.Counters == nil || i.Counters.InPackets == 0),
			i.Kind == "esp" && i.Name == "pgesp-0" && (i.Counters == nil || i.Counters.OutPackets == 0),
			i.Kind == "vrf" && i.State != "up":
			t.Errorf("show interfaces: %s %s %s counters %+v", i.Kind, i.Name, i.State, i.Counters)
		}
	}
	for _, want := range []string{"esp pgesp-in", "esp pgesp-0", "vrf vrf-red", "vrf vrf-blue"} {
		if !seen[want] {
			t.Errorf("show interfaces lacks %s: %s", want, body)
		}
	}
	sas := apiGet(t, filepath.Join(dir, "pe1.sock"), "/v1/ipsec/sa")
	var saList []struct {
		SPI       uint32
		Direction string
		Packets   uint64
	}
	if err := json.Unmarshal(sas, &saList); err != nil || len(saList) != 2 {
		t.Fatalf("/v1/ipsec/sa: %v: %s", err, sas)
	}
	for _, sa := range saList {
		if want := map[string]uint32{"out": 1002, "in": 2001}[sa.Direction]; sa.SPI != want || sa.Packets == 0 {
			t.Errorf("show ipsec sa: %s SPI %d with %d packets, want SPI %d with packets counted", sa.Direction, sa.SPI, sa.Packets, want)
		}
	}
	if strings.Contains(string(sas)+string(body), keyPE1toPE2[:16]) || strings.Contains(string(sas)+string(body), keyPE2toPE1[:16]) {
		t.Error("a key appears in show output")
	}
}

// apiGet fetches path from a peregrined's local API on socket.
func apiGet(t *testing.T, socket, path string) []byte {
	t.Helper()
	b, err := apiTry(socket, path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiTry is apiGet for a daemon that may not be listening yet: it
// returns the error rather than failing the test.
func apiTry(socket, path string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := c.Get("http://peregrined" + path)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %v: %s", path, resp.Status, err, b)
	}
	return b, nil
}

// twoPEs is CE - PE1 - PE2 - CE in namespaces: the PEs share the core
// 192.168.0.0/30; red and blue CEs have the same addresses, 10.1.0.2 and
// fd00:1::2 behind PE1 (ce1, ce2), 10.2.0.2 and fd00:2::2 behind PE2 (ce3,
// ce4).
type twoPEs struct {
	pe1, pe2, red1, blue1, red2, blue2 netns.NsHandle
}

func newTwoPEs(t *testing.T) *twoPEs {
	n := newCEs(t)
	link(t, n.pe1, "core", "192.168.0.1/30", n.pe2, "core", "192.168.0.2/30")
	return n
}

// newCEs is newTwoPEs without the core: the PEs and their CEs.
func newCEs(t *testing.T) *twoPEs {
	n := &twoPEs{pe1: newNS(t), pe2: newNS(t), red1: newNS(t), blue1: newNS(t), red2: newNS(t), blue2: newNS(t)}
	link(t, n.pe1, "ce1", "10.1.0.1/24", n.red1, "eth0", "10.1.0.2/24")
	link(t, n.pe1, "ce2", "10.1.0.1/24", n.blue1, "eth0", "10.1.0.2/24")
	link(t, n.pe2, "ce3", "10.2.0.1/24", n.red2, "eth0", "10.2.0.2/24")
	link(t, n.pe2, "ce4", "10.2.0.1/24", n.blue2, "eth0", "10.2.0.2/24")
	defaultVia(t, n.red1, "10.1.0.1")
	defaultVia(t, n.blue1, "10.1.0.1")
	defaultVia(t, n.red2, "10.2.0.1")
	defaultVia(t, n.blue2, "10.2.0.1")
	for _, a := range []struct {
		ns         netns.NsHandle
		ifn, addr  string
		defaultVia string
	}{
		{n.pe1, "ce1", "fd00:1::1/64", ""}, {n.pe1, "ce2", "fd00:1::1/64", ""},
		{n.pe2, "ce3", "fd00:2::1/64", ""}, {n.pe2, "ce4", "fd00:2::1/64", ""},
		{n.red1, "eth0", "fd00:1::2/64", "fd00:1::1"}, {n.blue1, "eth0", "fd00:1::2/64", "fd00:1::1"},
		{n.red2, "eth0", "fd00:2::2/64", "fd00:2::1"}, {n.blue2, "eth0", "fd00:2::2/64", "fd00:2::1"},
	} {
		h := handle(t, a.ns)
		l, err := h.LinkByName(a.ifn)
		if err == nil {
			ad, _ := netlink.ParseAddr(a.addr)
			ad.Flags = unix.IFA_F_NODAD
			err = h.AddrAdd(l, ad)
		}
		if err == nil && a.defaultVia != "" {
			err = h.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, Gw: net.ParseIP(a.defaultVia)})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", a.ifn, a.addr, err)
		}
	}
	return n
}

// pingAll waits up to within for a ping to cross in each VRF and
// direction, IPv4 and, if v6, IPv6.
func (n *twoPEs) pingAll(t *testing.T, id uint16, within time.Duration, v6 bool) {
	t.Helper()
	type dir struct {
		name string
		ns   netns.NsHandle
		dst  string
	}
	dirs := []dir{{"red 1->2", n.red1, "10.2.0.2"}, {"blue 1->2", n.blue1, "10.2.0.2"}, {"red 2->1", n.red2, "10.1.0.2"}, {"blue 2->1", n.blue2, "10.1.0.2"}}
	if v6 {
		dirs = append(dirs, dir{"red 1->2 IPv6", n.red1, "fd00:2::2"}, dir{"blue 1->2 IPv6", n.blue1, "fd00:2::2"},
			dir{"red 2->1 IPv6", n.red2, "fd00:1::2"}, dir{"blue 2->1 IPv6", n.blue2, "fd00:1::2"})
	}
	for _, c := range dirs {
		var err error
		for deadline := time.Now().Add(within); time.Now().Before(deadline); {
			if err = ping(c.ns, c.dst, id); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: no answer within %v: %v", c.name, within, err)
		}
	}
}

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

// ikeConfig keys the tunnel between the PEs with IKEv2 instead:
// %[7]s is the remote's name, %[8]s the PSK file, %[9]v whether to initiate.
const ikeConfig = `ipsec:
  local-address: %[1]s
  ike-peers:
    - name: %[7]s
      remote-address: %[3]s
      psk-file: %[8]s
      initiate: %[9]v
      child-lifetime: {soft: 4s, hard: 30s}
      dpd-interval: 2s
`

// TestPeregrinedWithKernelBackendAndIKE: the same PEs keyed by IKEv2 with
// short child lifetimes: traffic crosses in both VRFs, and still does after
// the child SAs were rekeyed (the SPI on the core changed); nothing in
// clear.
func TestPeregrinedWithKernelBackendAndIKE(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	psk := filepath.Join(dir, "peer.psk")
	if err := os.WriteFile(psk, []byte("kernel-backend-ike-test-psk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// backend auto: with IPsec configured it must still pick the kernel
	// backend here, with the ESP gateway.
	auto := strings.Replace(peregrinedConfig+ikeConfig, "backend: kernel", "backend: auto", 1)
	conf := func(id, sock, peer string, n int, ifRed, ifBlue, name string, initiate bool) string {
		return fmt.Sprintf(auto, id, filepath.Join(dir, sock), peer, n, ifRed, ifBlue, name, psk, initiate)
	}
	log1 := startPeregrined(t, n.pe1, "pe1", conf("192.168.0.1", "pe1.sock", "192.168.0.2", 1, "ce1", "ce2", "pe2", true))
	startPeregrined(t, n.pe2, "pe2", conf("192.168.0.2", "pe2.sock", "192.168.0.1", 2, "ce3", "ce4", "pe1", false))
	n.pingAll(t, 51, 60*time.Second, true)
	if b, _ := os.ReadFile(log1); !strings.Contains(string(b), `msg="dataplane: kernel" picked-by=auto`) || !strings.Contains(string(b), "userspace gateway") {
		t.Errorf("backend auto with IPsec did not pick the kernel backend with the ESP gateway; log:\n%s", b)
	}

	spiOnCore := func(id uint16) uint32 {
		t.Helper()
		var spi uint32
		frames := captureCore(t, n.pe2, "core", func() {
			if err := ping(n.red1, "10.2.0.2", id); err != nil {
				t.Errorf("red 1->2: %v", err)
			}
		})
		for _, pkt := range espOnCore(t, "red", frames) {
			spi = binary.BigEndian.Uint32(pkt[espAt:])
		}
		return spi
	}
	before := spiOnCore(52)
	if before == 0 {
		t.Fatal("no ESP packet from pe1 on the core during a ping")
	}
	time.Sleep(10 * time.Second) // soft lifetime 4 s: two rekeys at least
	n.pingAll(t, 53, 10*time.Second, true)
	after := spiOnCore(54)
	if after == 0 || after == before {
		t.Errorf("ESP SPI from pe1 before %#x, 10 s later %#x: want a new child SA", before, after)
	}
}

// probe sends one ICMP echo of size bytes (IP header included) with DF
// from ns to dst and returns the ICMP type and code of the answer and,
// for "fragmentation needed", the next-hop MTU it names.
func probe(ns netns.NsHandle, dst string, id uint16, size int) (typ, code uint8, mtu int, err error) {
	err = onThreadIn(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE); err != nil {
			return err
		}
		tv := unix.Timeval{Sec: 1}
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		msg := make([]byte, size-20)
		msg[0] = 8
		binary.BigEndian.PutUint16(msg[4:], id)
		var sum uint32
		for i := 0; i+1 < len(msg); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(msg[i:]))
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(msg[2:], ^uint16(sum))
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: netip.MustParseAddr(dst).As4()}); err != nil {
			return err
		}
		buf := make([]byte, 2000)
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return err
			}
			ihl := int(buf[0]&0x0f) * 4
			if n < ihl+8 {
				continue
			}
			t, c := buf[ihl], buf[ihl+1]
			switch {
			case t == 0 && binary.BigEndian.Uint16(buf[ihl+4:]) == id:
				typ, code = t, c
				return nil
			case t == 3 && n >= ihl+8+28 && binary.BigEndian.Uint16(buf[ihl+8+20+4:]) == id:
				typ, code, mtu = t, c, int(binary.BigEndian.Uint16(buf[ihl+6:]))
				return nil
			}
		}
		return fmt.Errorf("no answer from %s", dst)
	})
	return typ, code, mtu, err
}
