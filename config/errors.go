package config

import (
	"errors"
	"strings"
)

// FieldError says which field of the configuration is wrong, with what value,
// and why. Path uses YAML keys joined by dots with list indexes in brackets,
// as an operator would point at the line: "bgp.neighbors[1].asn".
type FieldError struct {
	Path   string // where in the file
	Value  string // the value as written, quoted if a string; empty for a missing or unknown key
	Reason string // what is wrong and, where useful, what would be right
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Path + ": " + e.Reason
	}
	return e.Path + ": " + e.Value + ": " + e.Reason
}

// Errors is every problem found in one configuration, in file order where the
// decoder can tell. A Load that fails returns Errors so that an operator fixes
// the whole file in one pass rather than one line per attempt.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each FieldError.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ErrInvalid is matched (errors.Is) by every validation failure, so a caller
// can tell "the file is wrong" from "the file could not be read".
var ErrInvalid = errors.New("invalid configuration")

// Is reports ErrInvalid for any non-empty list.
func (es Errors) Is(target error) bool { return target == ErrInvalid && len(es) > 0 }
