package mpls

import (
	"bytes"
	"testing"
)

func TestPush(t *testing.T) {
	tests := []struct {
		name    string
		bufLen  int
		off     int
		l       Label
		tc, ttl uint8
		bottom  bool
		want    []byte // buf[newOff:off] on success
		wantErr error
	}{
		{name: "vpn label", bufLen: 16, off: 8, l: 100, ttl: 64, bottom: true, want: []byte{
			0x00, 0x06, 0x41, 0x40, // label 100, TC 0, S=1, TTL 64
		}},
		{name: "exactly 4 bytes headroom", bufLen: 4, off: 4, l: 24000, ttl: 63, want: []byte{
			0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
		}},
		{name: "tc 7, max label", bufLen: 8, off: 8, l: MaxLabel, tc: 7, ttl: 1, bottom: true, want: []byte{
			0xff, 0xff, 0xff, 0x01, // label 1048575, TC 7, S=1, TTL 1
		}},
		{name: "explicit null allowed", bufLen: 8, off: 4, l: IPv6ExplicitNull, ttl: 255, bottom: true, want: []byte{
			0x00, 0x00, 0x21, 0xff, // label 2, TC 0, S=1, TTL 255
		}},
		{name: "no headroom", bufLen: 16, off: 3, l: 100, wantErr: ErrNoHeadroom},
		{name: "zero headroom", bufLen: 16, off: 0, l: 100, wantErr: ErrNoHeadroom},
		{name: "negative offset", bufLen: 16, off: -1, l: 100, wantErr: ErrBadOffset},
		{name: "offset past end", bufLen: 16, off: 17, l: 100, wantErr: ErrBadOffset},
		{name: "label too big", bufLen: 16, off: 8, l: MaxLabel + 1, wantErr: ErrInvalidLabel},
		{name: "implicit null", bufLen: 16, off: 8, l: ImplicitNull, wantErr: ErrImplicitNull},
		{name: "tc too big", bufLen: 16, off: 8, l: 100, tc: 8, wantErr: ErrInvalidTC},
	}
	for _, tt := range tests {
		buf := bytes.Repeat([]byte{0xee}, tt.bufLen)
		orig := bytes.Clone(buf)
		newOff, err := Push(buf, tt.off, tt.l, tt.tc, tt.ttl, tt.bottom)
		if err != tt.wantErr {
			t.Errorf("%s: Push err = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil {
			if newOff != tt.off || !bytes.Equal(buf, orig) {
				t.Errorf("%s: failed Push changed buf or offset (%d)", tt.name, newOff)
			}
			continue
		}
		if newOff != tt.off-4 {
			t.Errorf("%s: newOff = %d, want %d", tt.name, newOff, tt.off-4)
		}
		if got := buf[newOff:tt.off]; !bytes.Equal(got, tt.want) {
			t.Errorf("%s: wrote % x, want % x", tt.name, got, tt.want)
		}
		if !bytes.Equal(buf[:newOff], orig[:newOff]) || !bytes.Equal(buf[tt.off:], orig[tt.off:]) {
			t.Errorf("%s: Push wrote outside buf[off-4:off]", tt.name)
		}
	}
}

func TestPop(t *testing.T) {
	buf := []byte{
		0xee, 0xee, // headroom
		0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
		0x00, 0x3e, 0x87, 0x80, // label 1000, TC 3, S=1, TTL 128
		0x45, 0x00, // payload
	}
	e, off, n, err := Pop(buf, 2, 10)
	if err != nil || off != 6 || n != 6 || e != (Entry{Label: 24000, TTL: 63}) {
		t.Fatalf("first Pop = %+v, %d, %d, %v", e, off, n, err)
	}
	e, off, n, err = Pop(buf, off, n)
	if err != nil || off != 10 || n != 2 || e != (Entry{Label: 1000, TC: 3, Bottom: true, TTL: 128}) {
		t.Fatalf("second Pop = %+v, %d, %d, %v", e, off, n, err)
	}
	if _, off2, n2, err := Pop(buf, off, n); err != ErrTruncated || off2 != off || n2 != n {
		t.Errorf("Pop of 2-byte payload = %d, %d, %v; want ErrTruncated, unchanged", off2, n2, err)
	}

	for _, tt := range []struct {
		name   string
		off, n int
		want   error
	}{
		{"negative off", -1, 4, ErrBadOffset},
		{"negative n", 0, -4, ErrBadOffset},
		{"off past end", 13, 0, ErrBadOffset},
		{"n past end", 10, 3, ErrBadOffset},
		{"huge n", 2, int(^uint(0) >> 1), ErrBadOffset},
		{"empty packet", 12, 0, ErrTruncated},
		{"3 bytes", 2, 3, ErrTruncated},
	} {
		if _, off, n, err := Pop(buf, tt.off, tt.n); err != tt.want || off != tt.off || n != tt.n {
			t.Errorf("%s: Pop(buf, %d, %d) = %d, %d, %v; want %v, unchanged", tt.name, tt.off, tt.n, off, n, err, tt.want)
		}
	}
}

func TestSwap(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		l       Label
		want    []byte
		wantErr error
	}{
		{name: "keeps tc and s, ttl-1", l: 24001, in: []byte{
			0x05, 0xdc, 0x07, 0x3f, // label 24000, TC 3, S=1, TTL 63
			0x45, // payload
		}, want: []byte{
			0x05, 0xdc, 0x17, 0x3e, // label 24001, TC 3, S=1, TTL 62
			0x45,
		}},
		{name: "ttl 2 -> 1", l: 16, in: []byte{
			0xff, 0xff, 0xfe, 0x02, // label 1048575, TC 7, S=0, TTL 2
		}, want: []byte{
			0x00, 0x01, 0x0e, 0x01, // label 16, TC 7, S=0, TTL 1
		}},
		{name: "to explicit null", l: IPv4ExplicitNull, in: []byte{
			0x00, 0x06, 0x41, 0x40, // label 100, TC 0, S=1, TTL 64
		}, want: []byte{
			0x00, 0x00, 0x01, 0x3f, // label 0, TC 0, S=1, TTL 63
		}},
		{name: "ttl 1 expires", l: 16, in: []byte{0x00, 0x06, 0x41, 0x01}, wantErr: ErrTTLExpired},
		{name: "ttl 0 expires", l: 16, in: []byte{0x00, 0x06, 0x41, 0x00}, wantErr: ErrTTLExpired},
		{name: "truncated", l: 16, in: []byte{0x00, 0x06, 0x41}, wantErr: ErrTruncated},
		{name: "empty", l: 16, in: nil, wantErr: ErrTruncated},
		{name: "bad label", l: MaxLabel + 1, in: []byte{0x00, 0x06, 0x41, 0x40}, wantErr: ErrInvalidLabel},
		{name: "implicit null", l: ImplicitNull, in: []byte{0x00, 0x06, 0x41, 0x40}, wantErr: ErrImplicitNull},
	}
	for _, tt := range tests {
		pkt := bytes.Clone(tt.in)
		err := Swap(pkt, tt.l)
		if err != tt.wantErr {
			t.Errorf("%s: Swap err = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		want := tt.want
		if err != nil {
			want = tt.in // unchanged on error
		}
		if !bytes.Equal(pkt, want) {
			t.Errorf("%s: after Swap % x, want % x", tt.name, pkt, want)
		}
	}
}

// TestLabelSwitchedPath carries one IPv4 packet across a VPN:
//
//	CE --ip--> PE1 --[24000|1000]--> P --[24001|1000]--> PE2 --ip--> CE
//
// PE1 pushes VPN label 1000 and transport label 24000 in Uniform mode, P
// swaps the transport label, PE2 pops both (no PHP) and restores the TTL.
func TestLabelSwitchedPath(t *testing.T) {
	const headroom = 8
	buf := append(make([]byte, headroom), ipv4Header()...)
	off, n := headroom, ipv4MinHeaderLen

	// PE1: the IP TTL 64 becomes 63 and is copied into both labels.
	ttl, err := IngressTTL(Uniform, buf[off:off+n])
	if err != nil || ttl != 63 {
		t.Fatalf("IngressTTL = %d, %v; want 63", ttl, err)
	}
	if off, err = Push(buf, off, 1000, 0, ttl, true); err != nil {
		t.Fatal(err)
	}
	if off, err = Push(buf, off, 24000, 0, ttl, false); err != nil {
		t.Fatal(err)
	}
	n += 2 * EntrySize
	want := []byte{
		0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
		0x00, 0x3e, 0x81, 0x3f, // label 1000, TC 0, S=1, TTL 63
		0x45, 0x00, 0x00, 0x73, // IPv4, IHL 5, total length 115
		0x00, 0x00, 0x40, 0x00, // ID 0, DF
		0x3f, 0x11, 0xb9, 0x61, // TTL 63, UDP, checksum 0xb961
	}
	if got := buf[off : off+n][:len(want)]; off != 0 || !bytes.Equal(got, want) {
		t.Fatalf("after imposition off=%d:\n% x\nwant\n% x", off, got, want)
	}

	// P: swap the transport label, TTL 63 -> 62.
	if err := Swap(buf[off:off+n], 24001); err != nil {
		t.Fatal(err)
	}

	// PE2: pop both labels, remembering the smallest TTL, then restore.
	minTTL := uint8(255)
	for {
		var e Entry
		if e, off, n, err = Pop(buf, off, n); err != nil {
			t.Fatal(err)
		}
		minTTL = min(minTTL, e.TTL)
		if e.Bottom {
			break
		}
	}
	if minTTL != 62 {
		t.Fatalf("smallest popped TTL = %d, want 62", minTTL)
	}
	if err := EgressTTL(Uniform, minTTL, buf[off:off+n]); err != nil {
		t.Fatal(err)
	}
	// Three hops (PE1, P, PE2): 64 -> 61. The checksum must still verify.
	ip := buf[off : off+n]
	if ip[ipv4TTLOffset] != 61 || !ipv4ChecksumOK(ip) {
		t.Fatalf("egress IPv4 header % x: TTL %d (want 61), checksum ok %v", ip, ip[ipv4TTLOffset], ipv4ChecksumOK(ip))
	}
}
