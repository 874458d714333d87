package mpls

// A label is the one value every other part of Peregrine passes around:
// BGP advertises it, the FIB programs it, the data plane matches it. Like
// netip.Addr it is a small comparable value with a canonical text form.

import "strconv"

// Label is a 20-bit MPLS label value (RFC 3032 section 2.1).
//
// Unlike netip.Addr, the zero Label is valid: it is label 0, the IPv4
// explicit null label. Values above MaxLabel cannot appear on the wire;
// IsValid reports them and MakeLabel and ParseLabel never return them.
type Label uint32

// Special-purpose labels 0-15 (RFC 3032 section 2.1, RFC 7274, IANA
// "Special-Purpose MPLS Label Values"). Labels 4-6 and 8-12 are reserved
// and unassigned.
const (
	// IPv4ExplicitNull asks the egress to pop and forward by the IPv4
	// header (RFC 3032). It may appear anywhere in the stack (RFC 4182).
	IPv4ExplicitNull Label = 0
	// RouterAlert delivers the packet to the local control plane
	// (RFC 3032). It must not be the bottom entry.
	RouterAlert Label = 1
	// IPv6ExplicitNull is IPv4ExplicitNull for IPv6 payloads.
	IPv6ExplicitNull Label = 2
	// ImplicitNull is only signalled, never sent: a router advertising
	// it asks its upstream to pop instead of swap (penultimate hop
	// popping, RFC 3032). Seeing it on the wire is a peer's bug.
	ImplicitNull Label = 3
	// EntropyLabelIndicator says the next entry is an entropy label
	// (RFC 6790).
	EntropyLabelIndicator Label = 7
	// GAL, the Generic Associated Channel Label, says a G-ACh header
	// follows the stack (RFC 5586).
	GAL Label = 13
	// OAMAlert marks OAM packets (RFC 3429).
	OAMAlert Label = 14
	// ExtensionLabel says the next entry is an extended special-purpose
	// label (RFC 7274).
	ExtensionLabel Label = 15
)

const (
	// MaxLabel is the largest 20-bit label, 1048575.
	MaxLabel Label = 1<<20 - 1
	// MaxReserved is the largest special-purpose label. Labels up to it
	// have fixed meanings and are never allocated.
	MaxReserved Label = 15
)

// reservedNames holds the names used by Name; empty for unassigned values.
var reservedNames = [MaxReserved + 1]string{
	IPv4ExplicitNull:      "ipv4-explicit-null",
	RouterAlert:           "router-alert",
	IPv6ExplicitNull:      "ipv6-explicit-null",
	ImplicitNull:          "implicit-null",
	EntropyLabelIndicator: "entropy-label-indicator",
	GAL:                   "gal",
	OAMAlert:              "oam-alert",
	ExtensionLabel:        "extension",
}

// MakeLabel returns v as a Label, or a *LabelError (which unwraps to
// ErrInvalidLabel) if v does not fit in 20 bits.
func MakeLabel(v uint32) (Label, error) {
	if v > uint32(MaxLabel) {
		return 0, &LabelError{Value: v}
	}
	return Label(v), nil
}

// MustLabel is like MakeLabel but panics if v is out of range. It is for
// constants in tests and static tables, not for input.
func MustLabel(v uint32) Label {
	l, err := MakeLabel(v)
	if err != nil {
		panic(err)
	}
	return l
}

// ParseLabel parses a label in canonical decimal form, as String writes
// it: digits only, no sign, no spaces, no leading zeros ("0" itself is
// fine). Errors are *ParseError values that quote the input; those for
// values above MaxLabel unwrap to ErrInvalidLabel.
func ParseLabel(s string) (Label, error) {
	if s == "" {
		return 0, &ParseError{What: "label", Input: s, Msg: "empty string"}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, &ParseError{What: "label", Input: s, Msg: "leading zero"}
	}
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, &ParseError{What: "label", Input: s,
				Msg: "unexpected character " + strconv.QuoteRune(rune(c)) + " at byte " + strconv.Itoa(i)}
		}
		v = v*10 + uint32(c-'0')
		if v > uint32(MaxLabel) { // checked every digit, so v*10 cannot overflow
			return 0, &ParseError{What: "label", Input: s,
				Msg: "out of range 0.." + strconv.Itoa(int(MaxLabel)), Err: ErrInvalidLabel}
		}
	}
	return Label(v), nil
}

// IsValid reports whether l fits in 20 bits.
func (l Label) IsValid() bool { return l <= MaxLabel }

// IsReserved reports whether l is a special-purpose label, 0 to 15, whether
// or not IANA has assigned it a meaning.
func (l Label) IsReserved() bool { return l <= MaxReserved }

// Name returns the short name of an assigned special-purpose label, such as
// "implicit-null" for 3, and "" for any other label.
func (l Label) Name() string {
	if l > MaxReserved {
		return ""
	}
	return reservedNames[l]
}

// String returns l in decimal, the form ParseLabel reads, `ip -f mpls
// route` prints and operators type: "3", "100", "1048575".
//
// It deliberately does not decorate special-purpose labels. Every MPLS
// engineer reads 0, 2 and 3 on sight, and a plain number survives grep,
// config files and round trips through ParseLabel. Use Name (or Entry's
// String, which appends it) where a human wants the words. Values above
// MaxLabel are printed as numbers too; check IsValid first if that matters.
func (l Label) String() string {
	return strconv.FormatUint(uint64(l), 10)
}

// AppendText implements encoding.TextAppender, writing the same form as
// String. It fails with a *LabelError for a label above MaxLabel.
func (l Label) AppendText(b []byte) ([]byte, error) {
	if !l.IsValid() {
		return b, &LabelError{Value: uint32(l)}
	}
	return strconv.AppendUint(b, uint64(l), 10), nil
}

// MarshalText implements encoding.TextMarshaler, so labels can sit in
// configuration files. It fails for a label above MaxLabel.
func (l Label) MarshalText() ([]byte, error) {
	return l.AppendText(nil)
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseLabel.
func (l *Label) UnmarshalText(text []byte) error {
	v, err := ParseLabel(string(text))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
