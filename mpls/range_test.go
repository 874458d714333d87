package mpls

import (
	"errors"
	"testing"
)

func TestRangeValidate(t *testing.T) {
	tests := []struct {
		r       Range
		wantErr string // "" for valid
	}{
		{Range{16, 16}, ""},
		{Range{16, MaxLabel}, ""},
		{Range{24000, 24999}, ""},
		{Range{}, "mpls: label range 0-0: overlaps reserved labels 0-15"},
		{Range{15, 100}, "mpls: label range 15-100: overlaps reserved labels 0-15"},
		{Range{0, 15}, "mpls: label range 0-15: overlaps reserved labels 0-15"},
		{Range{200, 100}, "mpls: label range 200-100: first label is greater than last"},
		{Range{16, MaxLabel + 1}, "mpls: label range 16-1048576: outside 0..1048575"},
		{Range{MaxLabel + 1, MaxLabel + 2}, "mpls: label range 1048576-1048577: outside 0..1048575"},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%v.Validate() = %v, want nil", tt.r, err)
			}
			continue
		}
		var re *RangeError
		if !errors.As(err, &re) || re.Range != tt.r || !errors.Is(err, ErrInvalidRange) {
			t.Errorf("%v.Validate() = %v, want *RangeError wrapping ErrInvalidRange", tt.r, err)
			continue
		}
		if err.Error() != tt.wantErr {
			t.Errorf("%v.Validate() = %q, want %q", tt.r, err, tt.wantErr)
		}
	}
}

func TestRangeContainsLen(t *testing.T) {
	r := Range{100, 103}
	for l, want := range map[Label]bool{99: false, 100: true, 102: true, 103: true, 104: false} {
		if got := r.Contains(l); got != want {
			t.Errorf("%v.Contains(%d) = %v, want %v", r, l, got, want)
		}
	}
	for _, tt := range []struct {
		r    Range
		want int
	}{{Range{100, 103}, 4}, {Range{16, 16}, 1}, {Range{16, MaxLabel}, 1048560}, {Range{5, 4}, 0}} {
		if got := tt.r.Len(); got != tt.want {
			t.Errorf("%v.Len() = %d, want %d", tt.r, got, tt.want)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    Range
		wantErr string
		is      error // sentinel the error must wrap, if any
	}{
		{in: "16-1048575", want: Range{16, MaxLabel}},
		{in: "1000-1999", want: Range{1000, 1999}},
		{in: "1000", wantErr: `mpls: parse label range "1000": want "first-last"`},
		{in: "", wantErr: `mpls: parse label range "": want "first-last"`},
		{in: "a-20", wantErr: `mpls: parse label range "a-20": first label "a": unexpected character 'a' at byte 0`},
		{in: "20-", wantErr: `mpls: parse label range "20-": last label "": empty string`},
		{in: "20-30-40", wantErr: `mpls: parse label range "20-30-40": last label "30-40": unexpected character '-' at byte 2`},
		{in: "16-2000000", wantErr: `mpls: parse label range "16-2000000": last label "2000000": out of range 0..1048575`, is: ErrInvalidLabel},
		{in: "0-100", wantErr: `mpls: parse label range "0-100": overlaps reserved labels 0-15`, is: ErrInvalidRange},
		{in: "200-100", wantErr: `mpls: parse label range "200-100": first label is greater than last`, is: ErrInvalidRange},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("ParseRange(%q).String() = %q, want round trip", tt.in, s)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Input != tt.in {
			t.Errorf("ParseRange(%q) error = %v, want *ParseError quoting input", tt.in, err)
			continue
		}
		if err.Error() != tt.wantErr {
			t.Errorf("ParseRange(%q) error = %q, want %q", tt.in, err, tt.wantErr)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("ParseRange(%q) error does not wrap %v", tt.in, tt.is)
		}
	}
}

func TestRangeText(t *testing.T) {
	r := Range{24000, 24999}
	text, err := r.MarshalText()
	if err != nil || string(text) != "24000-24999" {
		t.Fatalf("MarshalText = %q, %v", text, err)
	}
	var back Range
	if err := back.UnmarshalText(text); err != nil || back != r {
		t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, r)
	}
	if _, err := (Range{1, 2}).MarshalText(); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("MarshalText of reserved range: err = %v, want ErrInvalidRange", err)
	}
	if err := back.UnmarshalText([]byte("x")); err == nil || back != r {
		t.Errorf("UnmarshalText(\"x\") = %v, range now %v; want error, unchanged", err, back)
	}
}
