package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// PrefixRule is one line of a CE neighbor's import-prefixes or
// export-prefixes: a prefix-list entry in the sense of FRR's and IOS's
// "ip prefix-list": a route matches when its prefix lies inside Prefix
// and its length is in the rule's range (Lengths). The first rule that
// matches decides; a list that matches nothing denies; no list accepts
// everything.
type PrefixRule struct {
	Prefix netip.Prefix `config:"prefix"`
	// GE and LE bound the matched lengths; unset, a rule matches Prefix
	// exactly. Pointers, so that "le: 0" (only the default route under
	// 0.0.0.0/0) is not taken for "no le".
	GE *uint8 `config:"ge"`
	LE *uint8 `config:"le"`
	// Action is accept or deny.
	Action string `config:"action"`
}

// Prefix-rule actions.
const (
	ActionAccept = "accept"
	ActionDeny   = "deny"
)

// Lengths is the range of prefix lengths r matches, as FRR reads ge and
// le: none, exactly the prefix's length; ge alone, ge up to the family's
// longest; le alone, the prefix's length up to le. Valid only for a rule
// that passed validation.
func (r PrefixRule) Lengths() (lo, hi int) {
	lo, hi = r.Prefix.Bits(), r.Prefix.Bits()
	if r.GE != nil {
		lo, hi = int(*r.GE), r.Prefix.Addr().BitLen()
	}
	if r.LE != nil {
		hi = int(*r.LE)
	}
	return lo, hi
}

// validatePrefixRules checks one list (at path p, e.g.
// "vrfs[0].neighbors[1].import-prefixes") of a CE session carrying
// families.
func validatePrefixRules(bad badFunc, p string, rules []PrefixRule, families []string) {
	for k, r := range rules {
		rp := fmt.Sprintf("%s[%d]", p, k)
		switch r.Action {
		case ActionAccept, ActionDeny:
		case "":
			bad(rp+".action", "", "required: accept or deny")
		default:
			bad(rp+".action", strconv.Quote(r.Action), "want accept or deny")
		}
		if !r.Prefix.IsValid() {
			bad(rp+".prefix", "", "required: a prefix such as 10.1.0.0/16")
			continue
		}
		if r.Prefix.Addr().Is4In6() || r.Prefix.Addr().Zone() != "" {
			bad(rp+".prefix", r.Prefix.String(), "want a plain IPv4 or IPv6 prefix")
			continue
		}
		if m := r.Prefix.Masked(); m != r.Prefix {
			bad(rp+".prefix", r.Prefix.String(), "has host bits set; did you mean %s?", m)
		}
		fam := "ipv4"
		if r.Prefix.Addr().Is6() {
			fam = "ipv6"
		}
		if len(families) > 0 && !slices.Contains(families, fam) {
			bad(rp+".prefix", r.Prefix.String(), "is %s, which this session does not carry (families %v)", fam, families)
		}
		bits, max := r.Prefix.Bits(), r.Prefix.Addr().BitLen()
		lengthOK := func(key string, v *uint8) bool {
			switch {
			case v == nil:
				return true
			case int(*v) > max:
				bad(rp+"."+key, fmt.Sprint(*v), "must be at most %d for %s", max, fam)
			case int(*v) < bits:
				bad(rp+"."+key, fmt.Sprint(*v), "is shorter than the prefix length of %s: such a route cannot lie inside it", r.Prefix)
			default:
				return true
			}
			return false
		}
		geOK, leOK := lengthOK("ge", r.GE), lengthOK("le", r.LE)
		if geOK && leOK && r.GE != nil && r.LE != nil && *r.GE > *r.LE {
			bad(rp+".ge", fmt.Sprint(*r.GE), "is greater than le (%d): the rule would match nothing", *r.LE)
		}
	}
}
