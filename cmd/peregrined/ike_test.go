package main

import (
	"testing"

	"github.com/peregrine-net/peregrine/config"
)

// TestReloadIKEPeers: a reload that changes the IKE peers (here only the
// PSK) is refused; one that leaves them alone is not.
func TestReloadIKEPeers(t *testing.T) {
	dir := t.TempDir()
	load := func(psk, extra string) *config.Config {
		t.Helper()
		writeFile(t, dir, "pe2.psk", psk)
		cfg, err := config.Load(writeFile(t, dir, "pe.yml", goodConfig+`ipsec:
  local-address: 192.0.2.1
  ike-peers: [{name: pe2, remote-address: 192.0.2.2, psk-file: pe2.psk}]
`+extra))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := load("first-psk-0123456789", "")
	if !sameIKEPeers(a, load("first-psk-0123456789", "log: {level: debug}\n")) {
		t.Error("unrelated change counted as an IKE peer change")
	}
	if sameIKEPeers(a, load("second-psk-0123456789", "")) {
		t.Error("a new PSK was not seen as a change")
	}
}
