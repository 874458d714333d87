// Package bgp will hold Peregrine's BGP/MPLS IP VPN control plane (RFC 4364):
// GoBGP v3 embedded as a library, VRFs with route distinguishers and route
// targets, VPNv4/VPNv6 origination and import. Nothing is implemented yet;
// see the project's issue "BGP/MPLS IP VPN control plane".
package bgp
