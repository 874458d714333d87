package bgp

import (
	"encoding/binary"
	"weak"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// ceCarriedTable hands the CE routes of equal attributes one ceCarried:
// a CE's table repeats a few attribute sets over many prefixes (GoBGP
// parses an UPDATE's attributes once for all its NLRI, but its watch
// hands each path over with attributes of its own). A route whose
// attributes were seen before then costs neither their decoding
// (apiutil's, some forty allocations a path) nor their memory, nor,
// when advertised, their encoding (ceWire).
//
// It is keyed by the watch's own encoding of the attributes a CE route
// carries (carriedAPITypes) and the site of origin attached, so a lookup
// decodes nothing. It holds its sets weakly: a set no route holds any
// more is collected, and sweep drops its entry. Owned by the speaker's
// goroutine.
type ceCarriedTable struct {
	m     map[string]weak.Pointer[ceCarried]
	swept int    // len(m) after the last sweep
	key   []byte // scratch
}

// carriedAPITypes are the GoBGP API messages of carriedTypes, one for
// one: the attributes that make a CE route's ceCarried.
var carriedAPITypes = []string{
	"OriginAttribute",
	"AsPathAttribute",
	"MultiExitDiscAttribute",
	"CommunitiesAttribute",
	"ExtendedCommunitiesAttribute",
	"LargeCommunitiesAttribute",
}

// get returns the carried attributes of p, a CE's best path, from a CE
// with site of origin soo.
func (t *ceCarriedTable) get(p *api.Path, soo vpn.RT) (*ceCarried, error) {
	t.key = carriedKey(t.key[:0], p, soo)
	if w, ok := t.m[string(t.key)]; ok {
		if c := w.Value(); c != nil {
			return c, nil
		}
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return nil, err
	}
	c, err := newCECarried(attrs, soo)
	if err != nil {
		return nil, err
	}
	if t.m == nil {
		t.m = map[string]weak.Pointer[ceCarried]{}
	}
	t.m[string(t.key)] = weak.Make(c)
	if len(t.m) > 2*t.swept+64 {
		t.sweep()
	}
	return c, nil
}

// sweep drops the entries of sets collected since; called as the table
// doubles, it costs O(1) per insertion.
func (t *ceCarriedTable) sweep() {
	for k, w := range t.m {
		if w.Value() == nil {
			delete(t.m, k)
		}
	}
	t.swept = len(t.m)
}

// carriedKey appends to b what makes p's ceCarried: soo, then, in the
// order of the path, the type and value of each attribute of
// carriedAPITypes, length-prefixed.
func carriedKey(b []byte, p *api.Path, soo vpn.RT) []byte {
	if soo.IsValid() {
		rt := soo.Bytes()
		b = append(append(b, 1), rt[:]...)
	} else {
		b = append(b, 0)
	}
	for _, a := range p.Pattrs {
		for _, name := range carriedAPITypes {
			if isType(a, name) {
				b = binary.AppendUvarint(b, uint64(len(a.TypeUrl)))
				b = append(b, a.TypeUrl...)
				b = binary.AppendUvarint(b, uint64(len(a.Value)))
				b = append(b, a.Value...)
				break
			}
		}
	}
	return b
}
