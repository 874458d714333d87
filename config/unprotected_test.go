package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestUnprotectedPeers(t *testing.T) {
	cfg, err := Parse([]byte(minimal + `
ipsec:
  unprotected-peers: [10.0.0.3, 10.9.0.0/16, '2001:db8::/64']
dataplane:
  mpls-interfaces: [core0, core1]
  transport-labels: [{remote: 10.9.0.7, label: 16001}]
  local-transport-labels: [100002, 100003]
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []netip.Prefix
	for _, p := range cfg.IPsec.UnprotectedPeers {
		got = append(got, p.Prefix)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.3/32"), netip.MustParsePrefix("10.9.0.0/16"), netip.MustParsePrefix("2001:db8::/64")}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if tl := cfg.Dataplane.TransportLabels; len(tl) != 1 || tl[0].Remote != netip.MustParseAddr("10.9.0.7") || tl[0].Label != 16001 {
		t.Errorf("transport-labels %+v", tl)
	}
	if ltl := cfg.Dataplane.LocalTransportLabels; len(ltl) != 2 || ltl[0] != 100002 || ltl[1] != 100003 {
		t.Errorf("local-transport-labels %v", ltl)
	}
	if strings.Join(cfg.Dataplane.MPLSInterfaces, ",") != "core0,core1" {
		t.Errorf("mpls-interfaces %v", cfg.Dataplane.MPLSInterfaces)
	}
}

func TestBadUnprotectedPeers(t *testing.T) {
	const core = "dataplane: {mpls-interfaces: [core0]}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"not an address", "ipsec: {unprotected-peers: [pe2]}\n" + core, []string{`ipsec.unprotected-peers[0]: "pe2": want a remote PE's address or a prefix`}},
		{"bad prefix length", "ipsec: {unprotected-peers: [10.0.0.0/33]}\n" + core, []string{`ipsec.unprotected-peers[0]: "10.0.0.0/33"`}},
		{"host bits", "ipsec: {unprotected-peers: [10.9.0.1/16]}\n" + core, []string{`ipsec.unprotected-peers[0]: "10.9.0.1/16": has host bits set; did you mean 10.9.0.0/16?`}},
		{"overlap", "ipsec: {unprotected-peers: [10.9.0.0/16, 10.9.1.1]}\n" + core, []string{"ipsec.unprotected-peers[1]: 10.9.1.1/32: overlaps ipsec.unprotected-peers[0] 10.9.0.0/16"}},
		{"own address", "ipsec: {local-address: 10.0.0.1, unprotected-peers: [10.0.0.1]}\n" + core, []string{"ipsec.unprotected-peers[0]: 10.0.0.1/32: is this PE's own ipsec.local-address"}},
		{"no core interfaces", "ipsec: {unprotected-peers: [10.0.0.2]}\n", []string{"dataplane.mpls-interfaces: required with ipsec.unprotected-peers"}},
		{"core is a CE interface", "vrfs: [{name: red, rd: '1:1', interfaces: [ce1]}]\ndataplane: {mpls-interfaces: [ce1]}\n", []string{`dataplane.mpls-interfaces[0]: "ce1": is a CE interface, vrfs[0].interfaces[0] (vrf red)`}},
		{"core listed twice", "dataplane: {mpls-interfaces: [core0, core0]}\n", []string{`dataplane.mpls-interfaces[1]: "core0": already listed as dataplane.mpls-interfaces[0]`}},
		{"transport label for a protected or unknown PE", "ipsec: {unprotected-peers: [10.9.0.0/16]}\n" + "dataplane:\n  mpls-interfaces: [core0]\n  transport-labels: [{remote: 10.8.0.1, label: 100}]\n", []string{"dataplane.transport-labels[0].remote: 10.8.0.1: is not in ipsec.unprotected-peers"}},
		{"transport label reserved", "ipsec: {unprotected-peers: [10.9.0.0/16]}\n" + "dataplane:\n  mpls-interfaces: [core0]\n  transport-labels: [{remote: 10.9.0.1, label: 3}]\n", []string{"dataplane.transport-labels[0].label: 3: must be 16..1048575"}},
		{"transport label twice", "ipsec: {unprotected-peers: [10.9.0.0/16]}\n" + "dataplane:\n  mpls-interfaces: [core0]\n  transport-labels: [{remote: 10.9.0.1, label: 100}, {remote: 10.9.0.1, label: 200}]\n", []string{"dataplane.transport-labels[1].remote: 10.9.0.1: already has a transport label: dataplane.transport-labels[0]"}},
		{"local transport label reserved", "dataplane: {mpls-interfaces: [core0], local-transport-labels: [3]}\n", []string{"dataplane.local-transport-labels[0]: 3: must be 16..1048575"}},
		{"local transport label too big", "dataplane: {mpls-interfaces: [core0], local-transport-labels: [1048576]}\n", []string{"dataplane.local-transport-labels[0]: 1048576: must be 16..1048575"}},
		{"local transport label among the VPN labels", "mpls: {label-min: 1000, label-max: 99999}\ndataplane: {mpls-interfaces: [core0], local-transport-labels: [16001]}\n", []string{"dataplane.local-transport-labels[0]: 16001: is inside mpls.label-min..label-max (1000..99999)"}},
		{"local transport label twice", "dataplane: {mpls-interfaces: [core0], local-transport-labels: [100001, 100001]}\n", []string{"dataplane.local-transport-labels[1]: 100001: already listed as dataplane.local-transport-labels[0]"}},
		{"local transport label without core", "dataplane: {local-transport-labels: [100001]}\n", []string{"dataplane.local-transport-labels: needs dataplane.mpls-interfaces"}},
		{"core bad name", "dataplane: {mpls-interfaces: ['a/b']}\n", []string{`dataplane.mpls-interfaces[0]: "a/b": is not a Linux interface name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(minimal + tc.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestUnprotectedPeerCoversTunnel: a prefix that covers a protected
// peer's address is an error naming both fields and the address.
func TestUnprotectedPeerCoversTunnel(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "out.key", 20, 0o600)
	writeKey(t, dir, "in.key", 20, 0o400)
	_, err := loadIn(t, dir, tunnels+"  unprotected-peers: [10.1.0.3, 10.0.0.0/24]\ndataplane: {mpls-interfaces: [core0]}\n")
	if err == nil {
		t.Fatal("accepted an unprotected prefix covering a tunnel's remote")
	}
	want := "ipsec.unprotected-peers[1]: 10.0.0.0/24: covers ipsec.tunnels[0].remote 10.0.0.2, a protected peer"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\ndoes not contain %q", err, want)
	}
	if strings.Contains(err.Error(), "unprotected-peers[0]:") {
		t.Errorf("10.1.0.3 does not cover 10.0.0.2, yet: %v", err)
	}
}
