package bgp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// decodePath reduces a GoBGP API path to what import needs, reading the
// protobuf of its NLRI and attributes (each an Any) in place with
// protowire. GoBGP's apiutil would unmarshal every Any into a message and
// convert that into its native types, some forty allocations a path; at a
// full table's worth of best paths that garbage cost more CPU than the
// import itself and, interleaved with the RIB's long-lived objects, left
// the heap fragmented. Here a path costs an allocation or two. The
// messages read are those of GoBGP's api/attribute.proto; the tests hold
// the result against apiutil's on the same paths.
//
// Route targets are appended to rts[:0], which the result's rts aliases:
// a caller that keeps the path past its next decode passes nil. Paths of
// other families return errNotVPN; the caller skips them.
func decodePath(p *api.Path, rts []vpn.RT) (vpnPath, error) {
	var vp vpnPath
	fam := p.GetFamily()
	if fam.GetSafi() != api.Family_SAFI_MPLS_VPN || (fam.GetAfi() != api.Family_AFI_IP && fam.GetAfi() != api.Family_AFI_IP6) {
		return vp, errNotVPN
	}
	v6 := fam.GetAfi() == api.Family_AFI_IP6
	if !isType(p.Nlri, "LabeledVPNIPAddressPrefix") {
		return vp, fmt.Errorf("VPN path without a labeled VPN prefix (%q)", p.Nlri.GetTypeUrl())
	}
	var err error
	if vp.key, vp.label, err = readVPNPrefix(p.Nlri.Value, v6); err != nil {
		return vp, err
	}
	vp.withdraw = p.IsWithdraw
	// GoBGP gives a locally originated path no neighbor address.
	vp.local = p.NeighborIp == "" || p.NeighborIp == "<nil>"
	if !vp.local {
		if _, err := netip.ParseAddr(p.NeighborIp); err != nil {
			vp.local = true
		}
	}
	if vp.withdraw {
		return vp, nil
	}
	vp.rts = rts[:0]
	for _, a := range p.Pattrs {
		switch {
		case isType(a, "MpReachNLRIAttribute"):
			if vp.nextHop, err = readMPReachNextHop(a.Value); err != nil {
				return vp, err
			}
		case isType(a, "ExtendedCommunitiesAttribute"):
			if vp.rts, err = readRouteTargets(a.Value, vp.rts); err != nil {
				return vp, err
			}
		}
	}
	return vp, nil
}

// isType reports whether a holds the apipb message name. As protobuf's
// own resolver does, only the URL's last segment counts.
func isType(a *anypb.Any, name string) bool {
	n := typeName(a.GetTypeUrl())
	return len(n) == len("apipb.")+len(name) && n[:len("apipb.")] == "apipb." && n[len("apipb."):] == name
}

// typeName is a type URL's last segment, the message's full name.
func typeName[T string | []byte](url T) T {
	for i := len(url) - 1; i >= 0; i-- {
		if url[i] == '/' {
			return url[i+1:]
		}
	}
	return url
}

var (
	errProto  = errors.New("malformed protobuf")
	errNoRD   = errors.New("VPN prefix without a route distinguisher")
	errNoAddr = errors.New("VPN prefix without an address")
	// GoBGP's apiutil would make the next hop 0.0.0.0 or ::, which no
	// route can use.
	errNoNextHop = errors.New("MP_REACH_NLRI without a next hop")
)

// field is one protobuf field: its number, its wire type and, for varints,
// the value, for length-delimited fields the bytes.
type field struct {
	num   protowire.Number
	typ   protowire.Type
	value uint64
	bytes []byte
}

// nextField reads the field at the start of b and returns it with the rest.
func nextField(b []byte) (field, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return field{}, nil, errProto
	}
	b = b[n:]
	f := field{num: num, typ: typ}
	switch typ {
	case protowire.VarintType:
		f.value, n = protowire.ConsumeVarint(b)
	case protowire.BytesType:
		f.bytes, n = protowire.ConsumeBytes(b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return field{}, nil, errProto
	}
	return f, b[n:], nil
}

// readVPNPrefix reads a LabeledVPNIPAddressPrefix: labels (1), rd (2, an
// Any), prefix_len (3), prefix (4).
func readVPNPrefix(b []byte, v6 bool) (pathKey, mpls.Label, error) {
	var (
		key      pathKey
		label    mpls.Label
		labelSet bool
		bits     uint64
		addr     netip.Addr
		rdErr    = errNoRD
	)
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return key, 0, fmt.Errorf("VPN prefix: %w", err)
		}
		b = rest
		switch {
		case f.num == 1 && f.typ == protowire.VarintType && !labelSet:
			label, labelSet = mpls.Label(uint32(f.value)&uint32(mpls.MaxLabel)), true
		case f.num == 1 && f.typ == protowire.BytesType && !labelSet: // packed
			if v, n := protowire.ConsumeVarint(f.bytes); n > 0 {
				label, labelSet = mpls.Label(uint32(v)&uint32(mpls.MaxLabel)), true
			}
		case f.num == 2 && f.typ == protowire.BytesType:
			key.rd, rdErr = readRD(f.bytes)
		case f.num == 3 && f.typ == protowire.VarintType:
			bits = f.value
		case f.num == 4 && f.typ == protowire.BytesType:
			if addr, err = parseAddr(f.bytes); err != nil {
				return key, 0, fmt.Errorf("VPN prefix: %w", err)
			}
		}
	}
	if rdErr != nil {
		return key, 0, rdErr
	}
	if !addr.IsValid() {
		return key, 0, errNoAddr
	}
	if v6 {
		addr = netip.AddrFrom16(addr.As16()) // GoBGP reads IPv4 text as ::ffff:a.b.c.d here
	} else if addr = addr.Unmap(); !addr.Is4() {
		return key, 0, fmt.Errorf("VPNv4 prefix %v", addr)
	}
	if bits > uint64(addr.BitLen()) {
		return key, 0, fmt.Errorf("VPN prefix length %d", bits)
	}
	key.prefix = netip.PrefixFrom(addr, int(bits)).Masked()
	return key, label, nil
}

// parseAddr parses an address field as net.ParseIP would: no zone.
// Dotted quads, what VPNv4 paths hold, are read in place; anything else
// goes through netip.ParseAddr, which needs (and allocates) a string.
func parseAddr(b []byte) (netip.Addr, error) {
	if a, ok := parseIPv4(b); ok {
		return a, nil
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q", b)
	}
	return a, nil
}

// parseIPv4 reads a dotted quad as netip.ParseAddr does: four decimal
// fields of 0..255 without leading zeros. ok is false for anything else.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	field, digits, val := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || field > 3 {
				return netip.Addr{}, false
			}
			ip[field] = byte(val)
			field, digits, val = field+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if field != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// rdKinds and rtKinds are the administrator forms of GoBGP's RD and
// extended community messages.
var (
	rdKinds = map[string]vpn.Kind{
		"apipb.RouteDistinguisherTwoOctetASN":  vpn.KindAS2,
		"apipb.RouteDistinguisherIPAddress":    vpn.KindIPv4,
		"apipb.RouteDistinguisherFourOctetASN": vpn.KindAS4,
	}
	rtKinds = map[string]vpn.Kind{
		"apipb.TwoOctetAsSpecificExtended":  vpn.KindAS2,
		"apipb.IPv4AddressSpecificExtended": vpn.KindIPv4,
		"apipb.FourOctetAsSpecificExtended": vpn.KindAS4,
	}
)

// putAdminAssigned writes the six value bytes RDs (RFC 4364 4.2) and
// route targets (RFC 4360 3) share: a 2-byte AS and a 4-byte number, an
// IPv4 address and a 2-byte number, or a 4-byte AS and a 2-byte number.
// It is false for the IPv4 form without an IPv4 address.
func putAdminAssigned(v []byte, kind vpn.Kind, admin uint64, ip netip.Addr, assigned uint64) bool {
	switch kind {
	case vpn.KindAS2:
		binary.BigEndian.PutUint16(v, uint16(admin))
		binary.BigEndian.PutUint32(v[2:], uint32(assigned))
	case vpn.KindIPv4:
		if !ip.Is4() {
			return false
		}
		a := ip.As4()
		copy(v, a[:])
		binary.BigEndian.PutUint16(v[4:], uint16(assigned))
	case vpn.KindAS4:
		binary.BigEndian.PutUint32(v, uint32(admin))
		binary.BigEndian.PutUint16(v[4:], uint16(assigned))
	}
	return true
}

// readRD reads the Any holding a RouteDistinguisherTwoOctetASN,
// RouteDistinguisherIPAddress or RouteDistinguisherFourOctetASN, each
// admin (1) and assigned (2), into the 8-byte wire form (RFC 4364 4.2).
func readRD(anyBytes []byte) (vpn.RD, error) {
	name, value, err := readAny(anyBytes)
	if err != nil {
		return vpn.RD{}, fmt.Errorf("route distinguisher: %w", err)
	}
	var w [8]byte
	admin, ip, assigned, err := readAdminAssigned(value, 1, 2)
	if err != nil {
		return vpn.RD{}, fmt.Errorf("route distinguisher: %w", err)
	}
	kind, ok := rdKinds[name]
	if !ok {
		return vpn.RD{}, errors.New("route distinguisher of an unknown type")
	}
	w[1] = byte(kind)
	if !putAdminAssigned(w[2:], kind, admin, ip, assigned) {
		return vpn.RD{}, errors.New("route distinguisher: administrator is not an IPv4 address")
	}
	return vpn.RDFromBytes(w)
}

// readAny splits a google.protobuf.Any into its message name (from
// type_url, 1) and value (2). The name is one of knownTypes, or "" for
// any other, so reading it allocates nothing.
func readAny(b []byte) (name string, value []byte, err error) {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return "", nil, err
		}
		b = rest
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case 1:
			name = knownType(f.bytes)
		case 2:
			value = f.bytes
		}
	}
	return name, value, nil
}

// knownTypes are the messages readAny names: the RD and extended
// community forms.
var knownTypes = []string{
	"apipb.RouteDistinguisherTwoOctetASN",
	"apipb.RouteDistinguisherIPAddress",
	"apipb.RouteDistinguisherFourOctetASN",
	"apipb.TwoOctetAsSpecificExtended",
	"apipb.IPv4AddressSpecificExtended",
	"apipb.FourOctetAsSpecificExtended",
}

func knownType(url []byte) string {
	name := typeName(url)
	for _, t := range knownTypes {
		if string(name) == t {
			return t
		}
	}
	return ""
}

// readAdminAssigned reads the administrator (field adminNum: a number, or
// an IPv4 address as text) and assigned number (assignedNum) shared by the
// RD and route-target messages.
func readAdminAssigned(b []byte, adminNum, assignedNum protowire.Number) (admin uint64, ip netip.Addr, assigned uint64, err error) {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return 0, ip, 0, err
		}
		b = rest
		switch {
		case f.num == adminNum && f.typ == protowire.VarintType:
			admin = f.value
		case f.num == adminNum && f.typ == protowire.BytesType:
			if ip, err = parseAddr(f.bytes); err != nil {
				return 0, ip, 0, err
			}
			ip = ip.Unmap()
		case f.num == assignedNum && f.typ == protowire.VarintType:
			assigned = f.value
		}
	}
	return admin, ip, assigned, nil
}

// readMPReachNextHop reads the first of an MpReachNLRIAttribute's
// next_hops (2), the global address when a link-local one follows.
func readMPReachNextHop(b []byte) (netip.Addr, error) {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("MP_REACH_NLRI: %w", err)
		}
		b = rest
		if f.num == 2 && f.typ == protowire.BytesType {
			a, err := parseAddr(f.bytes)
			if err != nil {
				return netip.Addr{}, fmt.Errorf("MP_REACH_NLRI next hop: %w", err)
			}
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, errNoNextHop
}

// readRouteTargets appends the route targets among an
// ExtendedCommunitiesAttribute's communities (1, each an Any) to rts.
// Other communities, non-transitive ones included, are not route targets.
func readRouteTargets(b []byte, rts []vpn.RT) ([]vpn.RT, error) {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return rts, fmt.Errorf("extended communities: %w", err)
		}
		b = rest
		if f.num != 1 || f.typ != protowire.BytesType {
			continue
		}
		rt, ok, err := readRouteTarget(f.bytes)
		if err != nil {
			return rts, fmt.Errorf("extended community: %w", err)
		}
		if ok {
			rts = append(rts, rt)
		}
	}
	return rts, nil
}

// readRouteTarget reads one community Any: TwoOctetAsSpecificExtended,
// IPv4AddressSpecificExtended or FourOctetAsSpecificExtended, each
// is_transitive (1), sub_type (2), asn or address (3), local_admin (4).
// ok is false for a community that is not a transitive route target.
func readRouteTarget(anyBytes []byte) (vpn.RT, bool, error) {
	name, value, err := readAny(anyBytes)
	if err != nil || name == "" {
		return vpn.RT{}, false, err
	}
	var transitive bool
	var subtype uint64
	for b := value; len(b) > 0; {
		f, rest, err := nextField(b)
		if err != nil {
			return vpn.RT{}, false, err
		}
		b = rest
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			transitive = f.value != 0
		case f.num == 2 && f.typ == protowire.VarintType:
			subtype = f.value
		}
	}
	if !transitive || uint8(subtype) != vpn.SubtypeRouteTarget {
		return vpn.RT{}, false, nil
	}
	admin, ip, local, err := readAdminAssigned(value, 3, 4)
	if err != nil {
		return vpn.RT{}, false, err
	}
	w := [8]byte{1: vpn.SubtypeRouteTarget}
	kind, ok := rtKinds[name]
	if !ok {
		return vpn.RT{}, false, nil
	}
	w[0] = byte(kind)
	if !putAdminAssigned(w[2:], kind, admin, ip, local) {
		return vpn.RT{}, false, nil // GoBGP drops such a community
	}
	rt, err := vpn.RTFromBytes(w)
	return rt, err == nil, nil
}
