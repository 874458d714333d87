package kernel

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

func kernelTestTunnel(remote string) *fib.Tunnel {
	return &fib.Tunnel{Remote: netip.MustParseAddr(remote),
		Out: &fib.SAParams{SPI: 0x1002, Cipher: esp.AES128GCM16, Key: make([]byte, 20), PersistSequence: true},
		In:  &fib.SAParams{SPI: 0x2001, Cipher: esp.AES128GCM16, Key: make([]byte, 20), ReplayWindow: 1024}}
}

// TestKernelPathRefusal: which tunnels the kernel path takes, and the
// reason the log gives for each it leaves to the ESP gateway.
func TestKernelPathRefusal(t *testing.T) {
	local := netip.MustParseAddr("192.168.0.1")
	for _, tc := range []struct {
		name    string
		local   netip.Addr
		edit    func(*fib.Tunnel)
		persist bool
		want    string // a part of the reason; "" for the kernel path
	}{
		{"manual AES-GCM, raw ESP, a store", local, func(*fib.Tunnel) {}, true, ""},
		{"IKE child, no store needed", local, func(t *fib.Tunnel) { t.Out.PersistSequence = false }, false, ""},
		{"IKE child with ESN", local, func(t *fib.Tunnel) { t.Out.PersistSequence, t.Out.ESN, t.In.ESN = false, true, true }, false, ""},
		{"AES-CBC", local, func(t *fib.Tunnel) {
			t.Out.Cipher, t.Out.Key = esp.AES256CBCSHA512, make([]byte, 32+64)
			t.In.Cipher, t.In.Key = esp.AES256CBCSHA512, make([]byte, 32+64)
		}, true, ""},
		{"manual key without a store", local, func(*fib.Tunnel) {}, false, "no sequence store"},
		{"manual key with ESN", local, func(t *fib.Tunnel) { t.Out.ESN = true }, true, "ESN"},
		{"ESP in UDP", local, func(t *fib.Tunnel) { t.UDP = true }, true, "ESP in UDP"},
		{"no outbound key", local, func(t *fib.Tunnel) { t.Out = nil }, true, "keys missing"},
		{"no inbound key", local, func(t *fib.Tunnel) { t.In = nil }, true, "keys missing"},
		{"AH", local, func(t *fib.Tunnel) { t.Out.AH, t.In.AH = ah.HMACSHA256128, ah.HMACSHA256128 }, true, "AH"},
		{"IPv6 core", netip.MustParseAddr("fd00::1"), func(t *fib.Tunnel) { t.Remote = netip.MustParseAddr("fd00::2") }, true, "ip6tnl carries no MPLS"},
		{"IPv6 remote, IPv4 local", local, func(t *fib.Tunnel) { t.Remote = netip.MustParseAddr("fd00::2") }, true, "different families"},
		{"IPv4 remote, IPv6 local", netip.MustParseAddr("fd00::1"), func(*fib.Tunnel) {}, true, "different families"},
		{"no local address", netip.Addr{}, func(*fib.Tunnel) {}, true, "no local address"},
		{"a short key", local, func(t *fib.Tunnel) { t.In.Key = make([]byte, 16) }, true, "takes 20 bytes"},
		{"a retiring SA with a bad key", local, func(t *fib.Tunnel) {
			t.RetiringIn = []*fib.SAParams{{SPI: 0x2000, Cipher: esp.AES128GCM16, Key: make([]byte, 3)}}
		}, true, "takes 20 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tun := kernelTestTunnel("192.168.0.2")
			tc.edit(tun)
			got := kernelPathRefusal(tc.local, tun, tc.persist)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("refusal %q, want one containing %q", got, tc.want)
			}
		})
	}
}

// TestXfrmAlgos: our key material as the kernel's algorithms take it.
func TestXfrmAlgos(t *testing.T) {
	for _, tc := range []struct {
		c    esp.Cipher
		want string
	}{
		{esp.AES128GCM16, "aead rfc4106(gcm(aes)) key 20 icv 128"},
		{esp.AES256GCM16, "aead rfc4106(gcm(aes)) key 36 icv 128"},
		{esp.ChaCha20Poly1305, "aead rfc7539esp(chacha20,poly1305) key 36 icv 128"},
		{esp.AES128CBCSHA256, "enc cbc(aes) key 16 auth-trunc hmac(sha256) key 32 trunc 128"},
		{esp.AES128CBCSHA384, "enc cbc(aes) key 16 auth-trunc hmac(sha384) key 48 trunc 192"},
		{esp.AES256CBCSHA512, "enc cbc(aes) key 32 auth-trunc hmac(sha512) key 64 trunc 256"},
	} {
		key := make([]byte, tc.c.KeyLen())
		for i := range key {
			key[i] = byte(i)
		}
		var st netlink.XfrmState
		if err := xfrmAlgos(&st, tc.c, key); err != nil {
			t.Fatalf("%s: %v", tc.c, err)
		}
		got := ""
		if st.Aead != nil {
			got = fmt.Sprintf("aead %s key %d icv %d", st.Aead.Name, len(st.Aead.Key), st.Aead.ICVLen)
			if string(st.Aead.Key) != string(key) {
				t.Errorf("%s: the AEAD key is not the key material with its salt", tc.c)
			}
		} else {
			got = fmt.Sprintf("enc %s key %d auth-trunc %s key %d trunc %d", st.Crypt.Name, len(st.Crypt.Key), st.Auth.Name, len(st.Auth.Key), st.Auth.TruncateLen)
			if string(st.Crypt.Key)+string(st.Auth.Key) != string(key) {
				t.Errorf("%s: AES key then HMAC key is not the key material", tc.c)
			}
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.c, got, tc.want)
		}
	}
	var st netlink.XfrmState
	if err := xfrmAlgos(&st, esp.Cipher(0), nil); err == nil {
		t.Error("an invalid cipher has kernel algorithms")
	}
}

// TestKernelPeerObjects: the XFRM policies and states and the device of
// one remote PE, as `ip xfrm` would list them (keys left out).
func TestKernelPeerObjects(t *testing.T) {
	tun := kernelTestTunnel("192.168.0.2")
	tun.RetiringIn = []*fib.SAParams{{SPI: 0x2000, Cipher: esp.AES128GCM16, Key: make([]byte, 20), NoAntiReplay: true}}
	p := newKernelPeer(netip.MustParseAddr("::ffff:192.168.0.1"), tun)
	var lines []string
	for _, pol := range p.policies() {
		tm := pol.Tmpls[0]
		lines = append(lines, fmt.Sprintf("policy src %s dst %s proto %d dir %s tmpl src %s dst %s proto %s mode %s reqid %#x",
			pol.Src, pol.Dst, pol.Proto, pol.Dir, tm.Src, tm.Dst, tm.Proto, tm.Mode, tm.Reqid))
	}
	state := func(st *netlink.XfrmState) string {
		s := fmt.Sprintf("state src %s dst %s proto %s spi %#x mode %s reqid %#x replay-window %d", st.Src, st.Dst, st.Proto, st.Spi, st.Mode, st.Reqid, st.ReplayWindow)
		if st.Replay != nil {
			s += fmt.Sprintf(" oseq %d", st.Replay.OSeq)
		}
		if st.Limits.PacketHard != 0 {
			s += fmt.Sprintf(" limit packet-hard %d", st.Limits.PacketHard)
		}
		return s
	}
	out, err := p.outState(1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, state(out))
	ins, err := p.inStates()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ins {
		lines = append(lines, state(st))
	}
	lines = append(lines, "link "+kernelDev(p.remote))
	want := []string{
		"policy src 192.168.0.1/32 dst 192.168.0.2/32 proto 137 dir dir out tmpl src 192.168.0.1 dst 192.168.0.2 proto esp mode transport reqid 0x70670001",
		"policy src 192.168.0.2/32 dst 192.168.0.1/32 proto 137 dir dir in tmpl src 192.168.0.2 dst 192.168.0.1 proto esp mode transport reqid 0x70670001",
		"state src 192.168.0.1 dst 192.168.0.2 proto esp spi 0x1002 mode transport reqid 0x70670001 replay-window 0 oseq 1048576 limit packet-hard 1048576",
		"state src 192.168.0.2 dst 192.168.0.1 proto esp spi 0x2001 mode transport reqid 0x70670001 replay-window 32",
		"state src 192.168.0.2 dst 192.168.0.1 proto esp spi 0x2000 mode transport reqid 0x70670001 replay-window 0",
		"link pgmpls-c0a80002",
	}
	if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	for _, a := range []string{"255.255.255.255", "fd00:c::2", "::ffff:10.0.0.1"} {
		if d := kernelDev(netip.MustParseAddr(a)); len(d) != 15 || !strings.HasPrefix(d, kernelDevPrefix) {
			t.Errorf("%s: device %q, want pgmpls- and 8 hex digits (15 characters, the most Linux takes)", a, d)
		}
	}
	if kernelDev(netip.MustParseAddr("fd00:c::2")) == kernelDev(netip.MustParseAddr("fd00:c::3")) {
		t.Error("two IPv6 remotes share a device name")
	}
}

// TestKernelPeerSame: an Apply that brings the same SAs changes nothing
// in the kernel; any change of key, SPI or inbound set is a change.
func TestKernelPeerSame(t *testing.T) {
	local := netip.MustParseAddr("192.168.0.1")
	a, b := newKernelPeer(local, kernelTestTunnel("192.168.0.2")), newKernelPeer(local, kernelTestTunnel("192.168.0.2"))
	if !a.same(b) {
		t.Error("two plans of equal tunnels differ")
	}
	for name, edit := range map[string]func(*fib.Tunnel){
		"out key":  func(t *fib.Tunnel) { t.Out.Key = append([]byte{1}, t.Out.Key[1:]...) },
		"out SPI":  func(t *fib.Tunnel) { t.Out.SPI++ },
		"in SPI":   func(t *fib.Tunnel) { t.In.SPI++ },
		"retiring": func(t *fib.Tunnel) { t.RetiringIn = []*fib.SAParams{t.In} },
		"window":   func(t *fib.Tunnel) { t.In.ReplayWindow = 0 },
	} {
		tun := kernelTestTunnel("192.168.0.2")
		edit(tun)
		if a.same(newKernelPeer(local, tun)) {
			t.Errorf("%s changed, and the plans are the same", name)
		}
	}
}

// TestSysctlKernelPathInput: the kernel path's tunnels take MPLS input
// in every mode; the core does not once traffic is protected.
func TestSysctlKernelPathInput(t *testing.T) {
	links := []netlink.Link{
		&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "core", Index: 2}},
		&netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: "pgmpls-c0a80002", Index: 3}},
	}
	for _, tc := range []struct {
		name  string
		s     *fib.State
		espIn string
		core  string
	}{
		{"protected", &fib.State{}, fib.ESPGatewayInbound, "0"},
		{"protected, cores named", &fib.State{MPLSInterfaces: []string{"core"}}, fib.ESPGatewayInbound, "1"},
	} {
		w := sysctlWrites(tc.s, links, nil, tc.espIn)
		if w["net/mpls/conf/pgmpls-c0a80002/input"] != "1" || w["net/mpls/conf/core/input"] != tc.core {
			t.Errorf("%s: pgmpls input %q, core input %q; want 1 and %s", tc.name, w["net/mpls/conf/pgmpls-c0a80002/input"], w["net/mpls/conf/core/input"], tc.core)
		}
	}
}
