// Package localapi defines the JSON documents peregrined serves on its unix
// socket and the peregrine CLI reads. HTTP/JSON rather than gRPC: any
// operator can `curl --unix-socket` it, and the CLI needs no generated code.
//
//	GET /v1/bgp/neighbors          []Neighbor
//	GET /v1/vrfs                   []VRF
//	GET /v1/vrfs/{name}/routes     VRFRoutes
//
// No document ever carries a password or key.
package localapi

import (
	"net/netip"
	"time"
)

// DefaultSocket is where peregrined listens unless configured otherwise.
const DefaultSocket = "/run/peregrine/peregrined.sock"

// Neighbor is one BGP session's state.
type Neighbor struct {
	Address     netip.Addr    `json:"address"`
	ASN         uint32        `json:"asn"`
	Description string        `json:"description,omitempty"`
	State       string        `json:"state"` // idle, connect, active, opensent, openconfirm, established
	Uptime      time.Duration `json:"uptime,omitempty"`
	Families    []Family      `json:"families"`
}

// Family is one negotiated address family's prefix counts.
type Family struct {
	Name     string `json:"name"` // ipv4, ipv6, vpnv4, vpnv6
	Received uint64 `json:"received"`
	Accepted uint64 `json:"accepted"`
	Sent     uint64 `json:"sent"`
}

// VRF summarises one VRF.
type VRF struct {
	Name          string   `json:"name"`
	RD            string   `json:"rd"`
	ImportTargets []string `json:"import-targets"`
	ExportTargets []string `json:"export-targets"`
	Interfaces    []string `json:"interfaces"`
	LabelMode     string   `json:"label-mode"`
	Imported      int      `json:"imported"`
}

// Route is one route in a VRF: imported from a remote PE (NextHop is that
// PE, Label its VPN label) or originated here (Local true).
type Route struct {
	Prefix  netip.Prefix `json:"prefix"`
	NextHop netip.Addr   `json:"next-hop,omitzero"`
	Label   uint32       `json:"label"`
	RD      string       `json:"rd"`
	Local   bool         `json:"local,omitempty"`
}

// VRFRoutes is a VRF's routing table.
type VRFRoutes struct {
	VRF    string  `json:"vrf"`
	Routes []Route `json:"routes"`
}

// Error is the body of every non-200 answer.
type Error struct {
	Error string `json:"error"`
}
