package mpls

import (
	"bytes"
	"errors"
	"testing"
)

// ipv4Header returns a fresh copy of a valid 20-byte IPv4 header.
func ipv4Header() []byte {
	return []byte{
		0x45, 0x00, 0x00, 0x73, // version 4, IHL 5, TOS 0, total length 115
		0x00, 0x00, 0x40, 0x00, // ID 0, flags DF, fragment offset 0
		0x40, 0x11, 0xb8, 0x61, // TTL 64, protocol 17 (UDP), checksum 0xb861
		0xc0, 0xa8, 0x00, 0x01, // source 192.168.0.1
		0xc0, 0xa8, 0x00, 0xc7, // destination 192.168.0.199
	}
}

// ipv6Header returns a fresh copy of a valid 40-byte IPv6 header.
func ipv6Header() []byte {
	return []byte{
		0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
		0x00, 0x08, 0x11, 0x40, // payload length 8, next header UDP, hop limit 64
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
	}
}

// ipv4Sum returns the ones' complement sum of the IPv4 header h.
func ipv4Sum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < int(h[0]&0x0f)*4; i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// ipv4ChecksumOK reports whether the header checksum of h verifies.
func ipv4ChecksumOK(h []byte) bool { return ipv4Sum(h) == 0xffff }

// ipv4Checksum returns the checksum a full recomputation puts in h.
func ipv4Checksum(h []byte) uint16 {
	c := bytes.Clone(h)
	c[10], c[11] = 0, 0
	return ^ipv4Sum(c)
}

func withTTL(h []byte, ttl uint8) []byte {
	h = bytes.Clone(h)
	if h[0]>>4 == 6 {
		h[ipv6HopOffset] = ttl
		return h
	}
	h[ipv4TTLOffset] = ttl
	c := ipv4Checksum(h)
	h[10], h[11] = byte(c>>8), byte(c)
	return h
}

// headerWithChecksum returns an IPv4 header with the given TTL whose
// correct checksum is hc, by choosing the low word of the source address.
func headerWithChecksum(t *testing.T, ttl uint8, hc uint16) []byte {
	h := withTTL(ipv4Header(), ttl)
	h[14], h[15] = 0, 0
	h[10], h[11] = 0, 0
	// Sum of the other words is s0; we need s0 + w = ^hc in ones'
	// complement arithmetic, so w = ^hc + ^s0.
	w := uint32(^hc) + uint32(^ipv4Sum(h))
	w = w&0xffff + w>>16
	h[14], h[15] = byte(w>>8), byte(w)
	h[10], h[11] = byte(hc>>8), byte(hc)
	if !ipv4ChecksumOK(h) || ipv4Checksum(h) != hc {
		t.Fatalf("could not build a header with checksum %#04x: % x", hc, h)
	}
	return h
}

func TestChecksumUpdate(t *testing.T) {
	h := ipv4Header()
	if !ipv4ChecksumOK(h) || ipv4Checksum(h) != 0xb861 {
		t.Fatalf("test vector checksum wrong: %#04x", ipv4Checksum(h))
	}
	for ttl := 0; ttl < 256; ttl++ {
		p := bytes.Clone(h)
		setIPTTL(p, uint8(ttl))
		if p[ipv4TTLOffset] != uint8(ttl) {
			t.Fatalf("setIPTTL(%d) wrote TTL %d", ttl, p[ipv4TTLOffset])
		}
		got := uint16(p[10])<<8 | uint16(p[11])
		if want := ipv4Checksum(p); got != want {
			t.Fatalf("TTL %d: incremental checksum %#04x, full recomputation %#04x", ttl, got, want)
		}
	}
	// Every TTL change on headers whose checksums sit at the edges of the
	// end-around carry, such as 0x00ff (TTL +1 then needs a second fold).
	for _, hc := range []uint16{0x0000, 0x0001, 0x00ff, 0x01ff, 0x7fff, 0xfeff, 0xfffe} {
		for from := range 256 {
			p := headerWithChecksum(t, uint8(from), hc)
			for to := range 256 {
				q := bytes.Clone(p)
				setIPTTL(q, uint8(to))
				if got, want := uint16(q[10])<<8|uint16(q[11]), ipv4Checksum(q); got != want {
					t.Fatalf("checksum %#04x, TTL %d -> %d: incremental %#04x, full %#04x", hc, from, to, got, want)
				}
			}
		}
	}
	// A wrong checksum must stay wrong (RFC 1624 section 2).
	bad := ipv4Header()
	bad[11] ^= 0x01
	setIPTTL(bad, 63)
	if ipv4ChecksumOK(bad) {
		t.Error("incremental update repaired a corrupt checksum")
	}
}

func TestTTLModeText(t *testing.T) {
	if DefaultTTLMode != Uniform || TTLMode(0) != Uniform {
		t.Error("zero TTLMode is not the documented default, Uniform")
	}
	for _, m := range []TTLMode{Uniform, Pipe} {
		text, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back TTLMode
		if err := back.UnmarshalText(text); err != nil || back != m {
			t.Errorf("round trip of %v: %v, %v", m, back, err)
		}
	}
	if s := TTLMode(9).String(); s != "TTLMode(9)" {
		t.Errorf("TTLMode(9).String() = %q", s)
	}
	if _, err := TTLMode(2).MarshalText(); err != ErrInvalidTTLMode {
		t.Errorf("MarshalText of invalid mode: %v", err)
	}
	m := Pipe
	err := m.UnmarshalText([]byte("Uniform"))
	if !errors.Is(err, ErrInvalidTTLMode) || m != Pipe {
		t.Errorf("UnmarshalText(Uniform) = %v, mode %v; want ErrInvalidTTLMode, unchanged", err, m)
	}
	_, err = ParseTTLMode("short-pipe")
	if want := `mpls: parse TTL mode "short-pipe": want "uniform" or "pipe"`; err == nil || err.Error() != want {
		t.Errorf("ParseTTLMode(short-pipe) error = %v, want %q", err, want)
	}
}

func TestIngressTTL(t *testing.T) {
	tests := []struct {
		name      string
		mode      TTLMode
		pkt       []byte
		wantLabel uint8
		wantIP    uint8 // IP TTL after the call
		wantErr   error
	}{
		{"uniform v4", Uniform, ipv4Header(), 63, 63, nil},
		{"pipe v4", Pipe, ipv4Header(), 255, 63, nil},
		{"uniform v6", Uniform, ipv6Header(), 63, 63, nil},
		{"pipe v6", Pipe, ipv6Header(), 255, 63, nil},
		{"uniform ttl 2", Uniform, withTTL(ipv4Header(), 2), 1, 1, nil},
		{"pipe ttl 255", Pipe, withTTL(ipv6Header(), 255), 255, 254, nil},
		{"ttl 1 expires", Uniform, withTTL(ipv4Header(), 1), 0, 1, ErrTTLExpired},
		{"pipe ttl 1 expires", Pipe, withTTL(ipv6Header(), 1), 0, 1, ErrTTLExpired},
		{"ttl 0 expires", Pipe, withTTL(ipv4Header(), 0), 0, 0, ErrTTLExpired},
		{"bad mode", TTLMode(2), ipv4Header(), 0, 64, ErrInvalidTTLMode},
	}
	for _, tt := range tests {
		before := bytes.Clone(tt.pkt)
		got, err := IngressTTL(tt.mode, tt.pkt)
		if err != tt.wantErr || got != tt.wantLabel {
			t.Errorf("%s: IngressTTL = %d, %v; want %d, %v", tt.name, got, err, tt.wantLabel, tt.wantErr)
			continue
		}
		if err != nil && !bytes.Equal(tt.pkt, before) {
			t.Errorf("%s: failed IngressTTL modified the packet", tt.name)
		}
		if ip, _ := ipTTL(tt.pkt); ip != tt.wantIP {
			t.Errorf("%s: IP TTL now %d, want %d", tt.name, ip, tt.wantIP)
		}
		if tt.pkt[0]>>4 == 4 && !ipv4ChecksumOK(tt.pkt) {
			t.Errorf("%s: IPv4 checksum broken", tt.name)
		}
	}
}

func TestEgressTTL(t *testing.T) {
	tests := []struct {
		name     string
		mode     TTLMode
		labelTTL uint8
		pkt      []byte
		wantIP   uint8
		wantErr  error
	}{
		{"uniform: label smaller", Uniform, 50, ipv4Header(), 49, nil},
		{"uniform: ip smaller", Uniform, 255, ipv4Header(), 63, nil}, // pipe ingress, uniform egress
		{"uniform v6", Uniform, 10, ipv6Header(), 9, nil},
		{"pipe ignores label", Pipe, 50, ipv4Header(), 63, nil},
		{"pipe v6", Pipe, 250, ipv6Header(), 63, nil},
		{"uniform label 2", Uniform, 2, ipv6Header(), 1, nil},
		{"label ttl 1 expires", Uniform, 1, ipv4Header(), 64, ErrTTLExpired},
		{"label ttl 1 expires in pipe", Pipe, 1, ipv4Header(), 64, ErrTTLExpired},
		{"label ttl 0 expires", Pipe, 0, ipv6Header(), 64, ErrTTLExpired},
		{"ip ttl 1 expires", Pipe, 200, withTTL(ipv4Header(), 1), 1, ErrTTLExpired},
		{"ip ttl 1 expires uniform", Uniform, 200, withTTL(ipv6Header(), 1), 1, ErrTTLExpired},
		{"bad mode", TTLMode(7), 64, ipv4Header(), 64, ErrInvalidTTLMode},
	}
	for _, tt := range tests {
		before := bytes.Clone(tt.pkt)
		err := EgressTTL(tt.mode, tt.labelTTL, tt.pkt)
		if err != tt.wantErr {
			t.Errorf("%s: EgressTTL = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil && !bytes.Equal(tt.pkt, before) {
			t.Errorf("%s: failed EgressTTL modified the packet", tt.name)
		}
		if ip, _ := ipTTL(tt.pkt); ip != tt.wantIP {
			t.Errorf("%s: IP TTL now %d, want %d", tt.name, ip, tt.wantIP)
		}
		if tt.pkt[0]>>4 == 4 && !ipv4ChecksumOK(tt.pkt) {
			t.Errorf("%s: IPv4 checksum broken", tt.name)
		}
	}
}

func TestNotIP(t *testing.T) {
	v4 := ipv4Header()
	longIHL := bytes.Clone(v4)
	longIHL[0] = 0x46 // IHL 6: 24-byte header, only 20 present
	shortIHL := bytes.Clone(v4)
	shortIHL[0] = 0x44 // IHL 4: below the minimum
	for _, tt := range []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"v4 19 bytes", v4[:19]},
		{"v4 ihl past end", longIHL},
		{"v4 ihl < 5", shortIHL},
		{"v6 39 bytes", ipv6Header()[:39]},
		{"version 5", append([]byte{0x50}, v4[1:]...)},
		{"mpls entry", []byte{0x00, 0x06, 0x41, 0x40}},
	} {
		before := bytes.Clone(tt.pkt)
		if _, err := IngressTTL(Uniform, tt.pkt); err != ErrNotIP {
			t.Errorf("%s: IngressTTL err = %v, want ErrNotIP", tt.name, err)
		}
		if err := EgressTTL(Uniform, 64, tt.pkt); err != ErrNotIP {
			t.Errorf("%s: EgressTTL err = %v, want ErrNotIP", tt.name, err)
		}
		if !bytes.Equal(tt.pkt, before) {
			t.Errorf("%s: packet modified", tt.name)
		}
	}
}
