package main

import (
	"net/netip"
	"testing"
)

// A trimmed `ip -d -j link show` from a PE running wireguard-go.
const ipLinkSample = `[{"ifindex":1,"ifname":"lo","mtu":65536,"link_type":"loopback"},
{"ifindex":2,"ifname":"ce1","mtu":1500,"link_type":"ether","linkinfo":{"info_kind":"veth"}},
{"ifindex":4,"ifname":"wg1d9af5-pe1","mtu":1420,"link_type":"none","linkinfo":{"info_kind":"tun","info_data":{"type":"tun","pi":false}}}]`

func TestParseTunDevices(t *testing.T) {
	tuns, err := parseTunDevices([]byte(ipLinkSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(tuns) != 1 || tuns[0] != (tunDevice{"wg1d9af5-pe1", 1420}) {
		t.Errorf("tuns = %+v", tuns)
	}
	if got := describeTuns(tuns); got != "wg1d9af5-pe1 MTU 1420" {
		t.Errorf("describeTuns = %q", got)
	}
	if got := describeTuns(nil); got != "none found" {
		t.Errorf("describeTuns(nil) = %q", got)
	}
}

func TestAddressing(t *testing.T) {
	if got := hostAddr(ce1Net, 1); got != netip.MustParseAddr("10.1.0.1") {
		t.Errorf("gateway = %v", got)
	}
	if got := hostAddr(ce2Net, 2); got != ce2Addr {
		t.Errorf("ce2 = %v, want the iperf3 server's %v", got, ce2Addr)
	}
	if !coreNet.Contains(pe1Core) || !coreNet.Contains(pe2Core) {
		t.Error("PE core addresses outside the core subnet")
	}
}
