package mpls

// A label range is how an operator hands a block of labels to Peregrine
// (for example the block the kernel's net.mpls.platform_labels leaves for
// it, or one agreed with another label user on the same box). It lives in
// configuration, so it parses, prints and validates itself.

import (
	"strconv"
	"strings"
)

// Range is the closed interval of labels [First, Last].
//
// A usable range (see Validate) never includes the special-purpose labels
// 0-15, and there is deliberately no way to allow them: their meaning is
// fixed by RFC 3032 and IANA, so handing one out as a VPN label would make
// neighbours treat our traffic as explicit null, router alert, GAL and so
// on. The zero Range is [0, 0], which is invalid.
type Range struct {
	First, Last Label
}

// RangeError reports a Range that Validate rejects. It unwraps to
// ErrInvalidRange.
type RangeError struct {
	Range Range  // the rejected range
	Msg   string // why, e.g. "overlaps reserved labels 0-15"
}

func (e *RangeError) Error() string {
	return "mpls: label range " + e.Range.String() + ": " + e.Msg
}

// Unwrap returns ErrInvalidRange.
func (e *RangeError) Unwrap() error { return ErrInvalidRange }

// Validate reports whether r can be used for allocation: First <= Last,
// both at most MaxLabel, and First above the reserved labels (>= 16).
// It returns nil or a *RangeError.
func (r Range) Validate() error {
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		return &RangeError{Range: r, Msg: "outside 0.." + MaxLabel.String()}
	case r.First > r.Last:
		return &RangeError{Range: r, Msg: "first label is greater than last"}
	case r.First.IsReserved():
		return &RangeError{Range: r, Msg: "overlaps reserved labels 0-15"}
	}
	return nil
}

// Contains reports whether l is in r.
func (r Range) Contains(l Label) bool { return r.First <= l && l <= r.Last }

// Len returns the number of labels in r, or 0 if First > Last.
func (r Range) Len() int {
	if r.First > r.Last {
		return 0
	}
	return int(r.Last-r.First) + 1
}

// String returns r as "first-last", the form ParseRange reads.
func (r Range) String() string {
	return r.First.String() + "-" + r.Last.String()
}

// ParseRange parses "first-last" (for example "1000-1999") and validates
// the result. Errors are *ParseError values quoting the input; those for
// a well-formed but unusable range unwrap to ErrInvalidRange, those for a
// bad number to whatever ParseLabel's error unwraps to.
func ParseRange(s string) (Range, error) {
	first, last, ok := strings.Cut(s, "-")
	if !ok {
		return Range{}, &ParseError{What: "label range", Input: s, Msg: `want "first-last"`}
	}
	var r Range
	var err error
	if r.First, err = ParseLabel(first); err != nil {
		return Range{}, rangeParseError(s, "first", err)
	}
	if r.Last, err = ParseLabel(last); err != nil {
		return Range{}, rangeParseError(s, "last", err)
	}
	if err := r.Validate(); err != nil {
		return Range{}, &ParseError{What: "label range", Input: s,
			Msg: err.(*RangeError).Msg, Err: ErrInvalidRange}
	}
	return r, nil
}

func rangeParseError(s, which string, err error) error {
	pe := err.(*ParseError) // ParseLabel returns nothing else
	return &ParseError{What: "label range", Input: s,
		Msg: which + " label " + strconv.Quote(pe.Input) + ": " + pe.Msg, Err: pe.Err}
}

// MarshalText implements encoding.TextMarshaler. It fails with a
// *RangeError if r is not valid.
func (r Range) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseRange.
func (r *Range) UnmarshalText(text []byte) error {
	v, err := ParseRange(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
