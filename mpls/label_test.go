package mpls

import (
	"errors"
	"testing"
)

func TestMakeLabel(t *testing.T) {
	tests := []struct {
		in      uint32
		want    Label
		wantErr string
	}{
		{in: 0, want: IPv4ExplicitNull},
		{in: 3, want: ImplicitNull},
		{in: 16, want: 16},
		{in: 1048575, want: MaxLabel},
		{in: 1048576, wantErr: "mpls: label 1048576 out of range 0..1048575"},
		{in: 0xffffffff, wantErr: "mpls: label 4294967295 out of range 0..1048575"},
	}
	for _, tt := range tests {
		got, err := MakeLabel(tt.in)
		if tt.wantErr != "" {
			var le *LabelError
			if !errors.As(err, &le) || le.Value != tt.in {
				t.Errorf("MakeLabel(%d) error = %v, want *LabelError{%d}", tt.in, err, tt.in)
				continue
			}
			if err.Error() != tt.wantErr {
				t.Errorf("MakeLabel(%d) error = %q, want %q", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidLabel) {
				t.Errorf("MakeLabel(%d) error does not wrap ErrInvalidLabel", tt.in)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MakeLabel(%d) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestMustLabel(t *testing.T) {
	if got := MustLabel(100); got != 100 {
		t.Errorf("MustLabel(100) = %v", got)
	}
	defer func() {
		r := recover()
		if err, ok := r.(error); !ok || !errors.Is(err, ErrInvalidLabel) {
			t.Errorf("MustLabel(1<<20) panicked with %v, want a label error", r)
		}
	}()
	MustLabel(1 << 20)
	t.Error("MustLabel(1<<20) did not panic")
}

func TestParseLabel(t *testing.T) {
	tests := []struct {
		in      string
		want    Label
		wantErr string
		isRange bool // error should wrap ErrInvalidLabel
	}{
		{in: "0", want: 0},
		{in: "3", want: ImplicitNull},
		{in: "16", want: 16},
		{in: "24000", want: 24000},
		{in: "1048575", want: MaxLabel},
		{in: "", wantErr: `mpls: parse label "": empty string`},
		{in: "016", wantErr: `mpls: parse label "016": leading zero`},
		{in: "00", wantErr: `mpls: parse label "00": leading zero`},
		{in: "+1", wantErr: `mpls: parse label "+1": unexpected character '+' at byte 0`},
		{in: "-1", wantErr: `mpls: parse label "-1": unexpected character '-' at byte 0`},
		{in: " 1", wantErr: `mpls: parse label " 1": unexpected character ' ' at byte 0`},
		{in: "12a", wantErr: `mpls: parse label "12a": unexpected character 'a' at byte 2`},
		{in: "0x10", wantErr: `mpls: parse label "0x10": leading zero`},
		{in: "1048576", wantErr: `mpls: parse label "1048576": out of range 0..1048575`, isRange: true},
		{in: "99999999999999999999999", wantErr: `mpls: parse label "99999999999999999999999": out of range 0..1048575`, isRange: true},
	}
	for _, tt := range tests {
		got, err := ParseLabel(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseLabel(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("ParseLabel(%q).String() = %q, want round trip", tt.in, s)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Input != tt.in || pe.What != "label" {
			t.Errorf("ParseLabel(%q) error = %#v, want *ParseError naming the input", tt.in, err)
			continue
		}
		if err.Error() != tt.wantErr {
			t.Errorf("ParseLabel(%q) error = %q, want %q", tt.in, err, tt.wantErr)
		}
		if got := errors.Is(err, ErrInvalidLabel); got != tt.isRange {
			t.Errorf("ParseLabel(%q): errors.Is(err, ErrInvalidLabel) = %v, want %v", tt.in, got, tt.isRange)
		}
	}
}

func TestLabelPredicatesAndNames(t *testing.T) {
	tests := []struct {
		l        Label
		valid    bool
		reserved bool
		name     string
	}{
		{IPv4ExplicitNull, true, true, "ipv4-explicit-null"},
		{RouterAlert, true, true, "router-alert"},
		{IPv6ExplicitNull, true, true, "ipv6-explicit-null"},
		{ImplicitNull, true, true, "implicit-null"},
		{4, true, true, ""}, // reserved, unassigned
		{EntropyLabelIndicator, true, true, "entropy-label-indicator"},
		{12, true, true, ""},
		{GAL, true, true, "gal"},
		{OAMAlert, true, true, "oam-alert"},
		{ExtensionLabel, true, true, "extension"},
		{16, true, false, ""},
		{MaxLabel, true, false, ""},
		{MaxLabel + 1, false, false, ""},
	}
	for _, tt := range tests {
		if got := tt.l.IsValid(); got != tt.valid {
			t.Errorf("Label(%d).IsValid() = %v, want %v", tt.l, got, tt.valid)
		}
		if got := tt.l.IsReserved(); got != tt.reserved {
			t.Errorf("Label(%d).IsReserved() = %v, want %v", tt.l, got, tt.reserved)
		}
		if got := tt.l.Name(); got != tt.name {
			t.Errorf("Label(%d).Name() = %q, want %q", tt.l, got, tt.name)
		}
	}
}

func TestLabelString(t *testing.T) {
	for l, want := range map[Label]string{
		0: "0", ImplicitNull: "3", 16: "16", MaxLabel: "1048575", MaxLabel + 1: "1048576",
	} {
		if got := l.String(); got != want {
			t.Errorf("Label(%d).String() = %q, want %q", uint32(l), got, want)
		}
	}
}

func TestLabelText(t *testing.T) {
	for _, l := range []Label{0, 3, 16, 100000, MaxLabel} {
		text, err := l.MarshalText()
		if err != nil {
			t.Fatalf("Label(%d).MarshalText: %v", l, err)
		}
		var back Label
		if err := back.UnmarshalText(text); err != nil || back != l {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, l)
		}
	}
	b, err := Label(100).AppendText([]byte("label="))
	if err != nil || string(b) != "label=100" {
		t.Errorf("AppendText = %q, %v; want \"label=100\"", b, err)
	}
	if _, err := (MaxLabel + 1).MarshalText(); !errors.Is(err, ErrInvalidLabel) {
		t.Errorf("MarshalText of 1048576: err = %v, want ErrInvalidLabel", err)
	}
	l := Label(7)
	if err := l.UnmarshalText([]byte("x")); err == nil || l != 7 {
		t.Errorf("UnmarshalText(\"x\") = %v, label now %v; want error and label unchanged", err, l)
	}
}
