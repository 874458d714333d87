package mpls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// entryVectors are label stack entries encoded by hand from the RFC 3032
// layout: word = label<<12 | tc<<9 | s<<8 | ttl, sent big-endian.
var entryVectors = []struct {
	name  string
	wire  []byte
	entry Entry
}{
	{"label 100", []byte{
		0x00, 0x06, 0x41, 0x40, // 100<<12 | 0<<9 | 1<<8 | 64 = 0x00064140
	}, Entry{Label: 100, TC: 0, Bottom: true, TTL: 64}},
	{"first unreserved", []byte{
		0x00, 0x01, 0x0a, 0xff, // 16<<12 | 5<<9 | 0<<8 | 255 = 0x00010aff
	}, Entry{Label: 16, TC: 5, Bottom: false, TTL: 255}},
	{"max label, all bits", []byte{
		0xff, 0xff, 0xff, 0x01, // 0xfffff<<12 | 7<<9 | 1<<8 | 1 = 0xffffff01
	}, Entry{Label: MaxLabel, TC: 7, Bottom: true, TTL: 1}},
	{"ipv4 explicit null, ttl 0", []byte{
		0x00, 0x00, 0x01, 0x00, // 0<<12 | 0<<9 | 1<<8 | 0 = 0x00000100
	}, Entry{Label: IPv4ExplicitNull, TC: 0, Bottom: true, TTL: 0}},
	{"ios-xr first dynamic", []byte{
		0x05, 0xdc, 0x00, 0x3f, // 24000<<12 | 0<<9 | 0<<8 | 63 = 0x05dc003f
	}, Entry{Label: 24000, TC: 0, Bottom: false, TTL: 63}},
	{"junos first dynamic", []byte{
		0x49, 0x30, 0x01, 0xfe, // 299776<<12 | 0<<9 | 1<<8 | 254 = 0x493001fe
	}, Entry{Label: 299776, TC: 0, Bottom: true, TTL: 254}},
	{"tc 3", []byte{
		0x00, 0x3e, 0x87, 0x80, // 1000<<12 | 3<<9 | 1<<8 | 128 = 0x003e8780
	}, Entry{Label: 1000, TC: 3, Bottom: true, TTL: 128}},
}

func TestStackEntryDecode(t *testing.T) {
	for _, tt := range entryVectors {
		e := StackEntry(tt.wire)
		if !e.IsValid() {
			t.Fatalf("%s: IsValid() = false", tt.name)
		}
		if got := e.Entry(); got != tt.entry {
			t.Errorf("%s: Entry() = %+v, want %+v", tt.name, got, tt.entry)
		}
		// Cross-check the hand encoding against the formula.
		var s uint32
		if tt.entry.Bottom {
			s = 1
		}
		word := uint32(tt.entry.Label)<<12 | uint32(tt.entry.TC)<<9 | s<<8 | uint32(tt.entry.TTL)
		if got := binary.BigEndian.Uint32(tt.wire); got != word {
			t.Errorf("%s: vector is %#08x, formula gives %#08x", tt.name, got, word)
		}
	}
	if StackEntry([]byte{1, 2, 3}).IsValid() {
		t.Error("3-byte StackEntry reports IsValid")
	}
}

func TestEncodeEntry(t *testing.T) {
	for _, tt := range entryVectors {
		b := []byte{0xaa, 0xaa, 0xaa, 0xaa, 0xbb}
		EncodeEntry(b, tt.entry.Label, tt.entry.TC, tt.entry.Bottom, tt.entry.TTL)
		if !bytes.Equal(b[:4], tt.wire) || b[4] != 0xbb {
			t.Errorf("%s: EncodeEntry wrote % x, want % x (and byte 4 untouched)", tt.name, b, tt.wire)
		}
		c := make([]byte, 4)
		tt.entry.Encode(c)
		if !bytes.Equal(c, tt.wire) {
			t.Errorf("%s: Entry.Encode wrote % x, want % x", tt.name, c, tt.wire)
		}
	}
	// EncodeEntry keeps only the field widths.
	b := make([]byte, 4)
	EncodeEntry(b, MaxLabel+2, 0xff, false, 9)
	want := []byte{0x00, 0x00, 0x1e, 0x09} // label 1 (0x100001 masked), tc 7, S 0, ttl 9
	if !bytes.Equal(b, want) {
		t.Errorf("EncodeEntry out-of-range fields wrote % x, want % x", b, want)
	}
}

func TestStackEntrySetters(t *testing.T) {
	e := StackEntry([]byte{
		0x00, 0x06, 0x41, 0x40, // label 100, TC 0, S=1, TTL 64
	})
	e.SetLabel(MaxLabel)
	if want := []byte{0xff, 0xff, 0xf1, 0x40}; !bytes.Equal(e, want) { // label 0xfffff, TC 0, S=1, TTL 64
		t.Fatalf("after SetLabel(max): % x, want % x", []byte(e), want)
	}
	e.SetTC(5)
	if want := []byte{0xff, 0xff, 0xfb, 0x40}; !bytes.Equal(e, want) { // TC 5: 0xf0 | 5<<1 | 1
		t.Fatalf("after SetTC(5): % x, want % x", []byte(e), want)
	}
	e.SetBottomOfStack(false)
	if want := []byte{0xff, 0xff, 0xfa, 0x40}; !bytes.Equal(e, want) {
		t.Fatalf("after SetBottomOfStack(false): % x, want % x", []byte(e), want)
	}
	e.SetTTL(1)
	e.SetLabel(16)
	if want := []byte{0x00, 0x01, 0x0a, 0x01}; !bytes.Equal(e, want) { // label 16, TC 5, S=0, TTL 1
		t.Fatalf("after SetTTL(1), SetLabel(16): % x, want % x", []byte(e), want)
	}
	e.SetBottomOfStack(true)
	e.SetTC(0)
	if got, want := e.Entry(), (Entry{Label: 16, TC: 0, Bottom: true, TTL: 1}); got != want {
		t.Fatalf("final entry %+v, want %+v", got, want)
	}
}

func TestEntryString(t *testing.T) {
	for _, tt := range []struct {
		e    Entry
		want string
	}{
		{Entry{Label: 100, TC: 0, Bottom: true, TTL: 64}, "label 100, tc 0, [S], ttl 64"},
		{Entry{Label: ImplicitNull, TC: 1, TTL: 255}, "label 3 (implicit-null), tc 1, ttl 255"},
		{Entry{Label: 5, TTL: 1}, "label 5, tc 0, ttl 1"},
	} {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestParseStack(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		depth   int
		wantErr error
	}{
		{"one entry, payload", []byte{
			0x00, 0x06, 0x41, 0x40, // label 100, TC 0, S=1, TTL 64
			0x45, 0x00, // start of an IPv4 header
		}, 1, nil},
		{"transport + vpn", []byte{
			0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
			0x00, 0x3e, 0x81, 0x3f, // label 1000, TC 0, S=1, TTL 63
			0x60, // start of an IPv6 header
		}, 2, nil},
		{"eli + el + vpn", []byte{
			0x00, 0x00, 0x70, 0x00, // label 7 (ELI), S=0, TTL 0
			0x12, 0x34, 0x50, 0x00, // entropy label 0x12345, S=0, TTL 0
			0x00, 0x06, 0x41, 0x40, // label 100, S=1, TTL 64
		}, 3, nil},
		{"empty", nil, 0, ErrTruncated},
		{"partial entry", []byte{0x00, 0x06, 0x41}, 0, ErrTruncated},
		{"no bottom", []byte{
			0x05, 0xdc, 0x00, 0x3f, // label 24000, S=0
		}, 0, ErrTruncated},
		{"no bottom, partial second", []byte{
			0x05, 0xdc, 0x00, 0x3f, // label 24000, S=0
			0x00, 0x06, 0x41, // would be S=1 but the entry is cut off
		}, 0, ErrTruncated},
		{"max depth", stackOf(MaxStackDepth, 0), MaxStackDepth, nil},
		{"too deep", stackOf(MaxStackDepth+1, 0), 0, ErrTooDeep},
		{"too deep, no bottom at all", make([]byte, 4*(MaxStackDepth+3)), 0, ErrTooDeep},
		{"exactly max depth of bytes, no bottom", make([]byte, 4*MaxStackDepth), 0, ErrTooDeep},
	}
	for _, tt := range tests {
		s, err := ParseStack(tt.in)
		if err != tt.wantErr { // sentinels are returned unwrapped
			t.Errorf("%s: ParseStack err = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil {
			if s != nil {
				t.Errorf("%s: ParseStack returned %d bytes with an error", tt.name, len(s))
			}
			continue
		}
		if s.Depth() != tt.depth || len(s) != tt.depth*EntrySize || cap(s) != len(s) {
			t.Errorf("%s: depth %d len %d cap %d, want depth %d", tt.name, s.Depth(), len(s), cap(s), tt.depth)
		}
		if !s.Bottom().BottomOfStack() || s.Validate() != nil {
			t.Errorf("%s: parsed stack does not end at S=1 or fails Validate", tt.name)
		}
		for i := 0; i < s.Depth()-1; i++ {
			if s.Entry(i).BottomOfStack() {
				t.Errorf("%s: entry %d has S set", tt.name, i)
			}
		}
	}
}

// stackOf returns depth entries with labels 16, 17, ... and S set on the
// last, followed by extra payload bytes.
func stackOf(depth, extra int) []byte {
	b := make([]byte, depth*EntrySize+extra)
	for i := range depth {
		EncodeEntry(b[i*EntrySize:], Label(16+i), 0, i == depth-1, 64)
	}
	return b
}

func TestStackAccessors(t *testing.T) {
	s, err := ParseStack([]byte{
		0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
		0x00, 0x3e, 0x87, 0x80, // label 1000, TC 3, S=1, TTL 128
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Top().Label(); got != 24000 {
		t.Errorf("Top().Label() = %v, want 24000", got)
	}
	if got := s.Bottom().Entry(); got != (Entry{Label: 1000, TC: 3, Bottom: true, TTL: 128}) {
		t.Errorf("Bottom().Entry() = %+v", got)
	}
	if got := s.Entry(1).TC(); got != 3 {
		t.Errorf("Entry(1).TC() = %d, want 3", got)
	}
}

func TestStackValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Stack
		want error
	}{
		{"ok", Stack{
			0x05, 0xdc, 0x00, 0x3f, // label 24000, S=0
			0x00, 0x06, 0x41, 0x40, // label 100, S=1
		}, nil},
		{"bottom too early", Stack{
			0x00, 0x06, 0x41, 0x40, // label 100, S=1
			0x00, 0x06, 0x41, 0x40, // label 100, S=1 again
		}, ErrTrailingBytes},
		{"odd trailing bytes", Stack{
			0x00, 0x06, 0x41, 0x40, // label 100, S=1
			0x45, // one byte of payload
		}, ErrTrailingBytes},
		{"no bottom", Stack{0x05, 0xdc, 0x00, 0x3f}, ErrTruncated},
		{"empty", Stack{}, ErrTruncated},
		{"too deep", Stack(stackOf(MaxStackDepth+1, 0)), ErrTooDeep},
	}
	for _, tt := range tests {
		if err := tt.s.Validate(); err != tt.want {
			t.Errorf("%s: Validate() = %v, want %v", tt.name, err, tt.want)
		}
	}
	if !errors.Is(Stack(nil).Validate(), ErrTruncated) {
		t.Error("nil Stack validates")
	}
}
