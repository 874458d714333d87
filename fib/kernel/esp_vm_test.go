package kernel

import (
	"context"
	"encoding/binary"
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

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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
	c1, c2 := manualESPConfigs(t, dir, espConfig, false)
	startPeregrined(t, n.pe1, "pe1", c1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 31, 60*time.Second, true)
	red1, blue1 := n.red1, n.blue1

	labels := n.espLabels(t, 40, false)
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
	// backend auto: with IPsec configured it must still pick the kernel
	// backend here, with the ESP gateway.
	auto := strings.Replace(peregrinedConfig+ikeConfig, "backend: kernel", "backend: auto", 1)
	log1 := startIKEPEs(t, n, t.TempDir(), auto)
	n.pingAll(t, 51, 60*time.Second, true)
	if b, _ := os.ReadFile(log1); !strings.Contains(string(b), `msg="dataplane: kernel" picked-by=auto`) || !strings.Contains(string(b), "userspace gateway") {
		t.Errorf("backend auto with IPsec did not pick the kernel backend with the ESP gateway; log:\n%s", b)
	}
	n.checkChildRekeyed(t, 52, false)
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
