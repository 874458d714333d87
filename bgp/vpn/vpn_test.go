package vpn

import (
	"errors"
	"strings"
	"testing"
)

func TestRDWireForms(t *testing.T) {
	for _, tc := range []struct {
		text string
		wire [8]byte
	}{
		{"65000:100", [8]byte{
			0x00, 0x00, // type 0
			0xfd, 0xe8, // AS 65000
			0x00, 0x00, 0x00, 0x64, // assigned 100
		}},
		{"0:0", [8]byte{}},
		{"192.0.2.1:7", [8]byte{
			0x00, 0x01, // type 1
			192, 0, 2, 1, // IPv4 administrator
			0x00, 0x07, // assigned 7
		}},
		{"4200000000:65535", [8]byte{
			0x00, 0x02, // type 2
			0xfa, 0x56, 0xea, 0x00, // AS 4200000000
			0xff, 0xff, // assigned 65535
		}},
		{"65535:4294967295", [8]byte{0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		rd, err := ParseRD(tc.text)
		if err != nil {
			t.Fatalf("ParseRD(%q): %v", tc.text, err)
		}
		if rd.Bytes() != tc.wire {
			t.Errorf("ParseRD(%q).Bytes() = % x, want % x", tc.text, rd.Bytes(), tc.wire)
		}
		back, err := RDFromBytes(tc.wire)
		if err != nil || back != rd || back.String() != tc.text {
			t.Errorf("RDFromBytes(% x) = %v, %v; want %s", tc.wire, back, err, tc.text)
		}
	}
}

func TestRTWireForms(t *testing.T) {
	for _, tc := range []struct {
		text, canon string
		wire        [8]byte
	}{
		{"65000:1", "65000:1", [8]byte{0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 1}},
		{"rt:10.0.0.1:5", "10.0.0.1:5", [8]byte{0x01, 0x02, 10, 0, 0, 1, 0, 5}},
		{"target:4200000000:9", "4200000000:9", [8]byte{0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0, 9}},
	} {
		rt, err := ParseRT(tc.text)
		if err != nil {
			t.Fatalf("ParseRT(%q): %v", tc.text, err)
		}
		if rt.Bytes() != tc.wire || rt.String() != tc.canon {
			t.Errorf("ParseRT(%q) = %s % x, want %s % x", tc.text, rt, rt.Bytes(), tc.canon, tc.wire)
		}
		if back, err := RTFromBytes(tc.wire); err != nil || back != rt {
			t.Errorf("RTFromBytes(% x) = %v, %v", tc.wire, back, err)
		}
	}
	if _, err := RTFromBytes([8]byte{0x00, 0x03}); !errors.Is(err, ErrSyntax) {
		t.Errorf("route origin community accepted as RT: %v", err)
	}
	if _, err := RDFromBytes([8]byte{0x00, 0x03}); !errors.Is(err, ErrSyntax) {
		t.Errorf("RD type 3 accepted: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "want ADMIN:NUMBER"},
		{"65000", "want ADMIN:NUMBER"},
		{"65000:", "want ADMIN:NUMBER"},
		{":1", "want ADMIN:NUMBER"},
		{"x:1", "AS number must be"},
		{"4294967296:1", "AS number must be"},
		{"-1:1", "AS number must be"},
		{"65000:4294967296", "after a 2-byte AS"},
		{"65536:65536", "after a 4-byte AS"},
		{"10.0.0.1:65536", "after an IPv4 address"},
		{"10.0.0:1", "neither an AS number nor an IPv4 address"},
		{"2001:db8::1:1", "AS number must be"},
	} {
		_, err := ParseRD(tc.in)
		if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"`+tc.in+`"`) {
			t.Errorf("ParseRD(%q) = %v, want an error quoting the input and saying %q", tc.in, err, tc.want)
		}
	}
}

func TestZeroValuesInvalid(t *testing.T) {
	var rd RD
	var rt RT
	if rd.IsValid() || rt.IsValid() || rd.String() != "invalid RD" || rt.String() != "invalid RT" {
		t.Errorf("zero values: %v %v", rd, rt)
	}
	if MustParseRD("0:0") == rd {
		t.Error("RD 0:0 equals the zero RD")
	}
}

func TestTextRoundTrip(t *testing.T) {
	var rd RD
	if err := rd.UnmarshalText([]byte("192.0.2.1:3")); err != nil || rd != MustParseRD("192.0.2.1:3") {
		t.Fatalf("UnmarshalText: %v %v", rd, err)
	}
	if b, _ := rd.MarshalText(); string(b) != "192.0.2.1:3" {
		t.Errorf("MarshalText = %s", b)
	}
	var rt RT
	if err := rt.UnmarshalText([]byte("65000:x")); err == nil {
		t.Error("UnmarshalText accepted 65000:x")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"65000:1", "192.0.2.1:1", "4200000000:1", "rt:1:1", "1.2.3.4.5:1", "::", "0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if rd, err := ParseRD(s); err == nil {
			back, err := RDFromBytes(rd.Bytes())
			if err != nil || back != rd {
				t.Fatalf("RD %q: wire round trip gave %v, %v", s, back, err)
			}
			again, err := ParseRD(rd.String())
			if err != nil || again != rd {
				t.Fatalf("RD %q: text round trip via %q gave %v, %v", s, rd.String(), again, err)
			}
		}
		if rt, err := ParseRT(s); err == nil {
			again, err := ParseRT(rt.String())
			if err != nil || again != rt {
				t.Fatalf("RT %q: text round trip via %q gave %v, %v", s, rt.String(), again, err)
			}
		}
	})
}
