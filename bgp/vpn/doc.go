// Package vpn holds the value types that name BGP/MPLS IP VPNs (RFC 4364):
// route distinguishers, which make a customer's prefix unique in the
// provider's BGP, and route targets, the extended communities (RFC 4360)
// that decide which VRFs import a route.
//
// Both are small comparable values, like netip.Addr: usable as map keys,
// zero value invalid, parsed from and printed as the text forms network
// engineers write:
//
//	65000:100       2-byte AS : 4-byte number   (RD type 0, RT type 0x00)
//	192.0.2.1:100   IPv4 address : 2-byte number (RD type 1, RT type 0x01)
//	4200000000:100  4-byte AS : 2-byte number   (RD type 2, RT type 0x02)
//
// An AS number above 65535 selects the 4-byte-AS form, whose assigned number
// is limited to 16 bits. The package imports no GoBGP so that config and the
// fast path can use these types without the control plane.
package vpn
