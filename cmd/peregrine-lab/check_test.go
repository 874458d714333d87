package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/labs/clab"
)

// fakeLab answers check's questions as a lab of one PE and one CE would.
type fakeLab struct {
	dead      error  // pe1's daemon is down, with this reason
	saFrozen  bool   // the SA's counter does not move
	logText   string // what pe1's daemon logged
	saReads   uint64
	pingReply string
	ceState   string // ce2's BGP session; "" means Established
	ceNoRoute bool   // ce2's zebra has no BGP route to what it pings
	pingArgv  [][]string
}

func (f *fakeLab) vtysh(_ context.Context, node, command string) ([]byte, error) {
	if node != "ce2" {
		return nil, errors.New("not an FRR node")
	}
	switch {
	case command == "show bgp neighbors json":
		state := f.ceState
		if state == "" {
			state = "Established"
		}
		return []byte(`{"10.2.0.1":{"remoteAs":65000,"bgpState":"` + state + `","nbrDesc":"pe1"}}`), nil
	case strings.HasPrefix(command, "show ip route ") || strings.HasPrefix(command, "show ipv6 route "):
		if f.ceNoRoute {
			return []byte(`{"0.0.0.0/0":[{"protocol":"kernel","selected":true}]}`), nil
		}
		return []byte(`{"172.16.1.1/32":[{"protocol":"bgp","selected":true}]}`), nil
	}
	return []byte("   Network          Next Hop            Metric LocPrf Weight Path\n*> 172.16.1.1/32    10.2.0.1       0             0 65000 65000 i\n"), nil
}

func (f *fakeLab) show(_ context.Context, pe string, words []string, asJSON bool, w *bytes.Buffer) error {
	if f.dead != nil {
		return errors.New("cannot reach peregrined")
	}
	var v any
	switch strings.Join(words, " ") {
	case "bgp summary":
		v = []localapi.Neighbor{{State: "established"}}
	case "vrf":
		v = []localapi.VRF{{Name: "red", Imported: 1}}
	case "ipsec sa":
		f.saReads++
		n := f.saReads
		if f.saFrozen {
			n = 7
		}
		v = []localapi.SA{{Direction: "out", SPI: 0x3ea, Cipher: "aes128gcm16", Packets: n}}
	default:
		v = map[string]string{}
	}
	if !asJSON {
		w.WriteString("a table\n")
		return nil
	}
	return json.NewEncoder(w).Encode(v)
}

func (f *fakeLab) run(_ context.Context, _ string, argv ...string) ([]byte, error) {
	f.pingArgv = append(f.pingArgv, argv)
	return []byte(f.pingReply), nil
}

func (f *fakeLab) down(_ context.Context, node string) error {
	if node == "pe1" {
		return f.dead
	}
	return nil
}

func (f *fakeLab) logs(_ context.Context, node string) []byte {
	if node == "pe1" {
		return []byte(f.logText)
	}
	return nil
}

const checkTopo = `name: fake
topology:
  nodes:
    pe1: {kind: linux, image: peregrine:latest, binds: ["pe1:/etc/peregrine"]}
    ce1:
      kind: linux
      image: alpine:3.20
      labels: {peregrine.demo/ping: "10.2.0.2", peregrine.demo/vrf: red}
    ce2:
      kind: linux
      image: quay.io/frrouting/frr:8.4.4
      labels: {peregrine.demo/ping: "172.16.1.1", peregrine.demo/ping-from: "fd00::2,172.16.2.1", peregrine.demo/vrf: red}
`

const testKey = "00112233445566778899aabbccddeeff01234567"

// TestCheckVerdicts: check passes a healthy lab and fails, saying why, one
// whose PE is down (at once, with the daemon's words), whose SA carried
// nothing during the pings, whose CE gets no answer, or whose daemon
// logged key material.
func TestCheckVerdicts(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pe1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pe1", "to-pe2.key"), []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pe1", "peregrined.yml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "t.clab.yml")
	if err := os.WriteFile(p, []byte(checkTopo), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := clab.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	replies := strings.Repeat("64 bytes from 10.2.0.2: icmp_seq=1\n", 3)
	convergeTimeout = 2 * time.Second // a CE whose session stays down fails quickly
	t.Cleanup(func() { convergeTimeout = 90 * time.Second })
	for _, tc := range []struct {
		name string
		lab  *fakeLab
		want string // in the output; "" means PASS
	}{
		{"healthy", &fakeLab{pingReply: replies}, ""},
		{"PE down", &fakeLab{pingReply: replies, dead: errors.New("node pe1: container clab-fake-pe1 is not running; its last output lines:\n  peregrined.yml: vrfs[0].colour: unknown key")}, "vrfs[0].colour: unknown key"},
		{"SA frozen", &fakeLab{pingReply: replies, saFrozen: true}, "SAs that carried nothing during the pings: pe1/out/0x3ea"},
		{"no replies", &fakeLab{pingReply: "timeout"}, "0/6 CE pings answered"},
		{"CE session down", &fakeLab{pingReply: replies, ceState: "Active"}, "FRR routers not converged: ce2 bgp 0/1 routes 1/1 (10.2.0.1 Active)"},
		{"CE without a BGP route", &fakeLab{pingReply: replies, ceNoRoute: true}, "FRR routers not converged: ce2 bgp 1/1 routes 0/1"},
		{"key in the log", &fakeLab{pingReply: replies, logText: "level=DEBUG key=" + testKey[:20]}, "KEY MATERIAL in the output or logs, from pe1/to-pe2.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := check(context.Background(), topo, tc.lab, &out)
			if tc.want == "" {
				if err != nil || !strings.Contains(out.String(), "verdict: PASS") {
					t.Fatalf("check: %v\n%s", err, out.String())
				}
				// ce2 pings from its loopback address of the target's family.
				if !slices.ContainsFunc(tc.lab.pingArgv, func(a []string) bool {
					return strings.Join(a, " ") == "ping -I 172.16.2.1 -c 3 -i 0.3 -W 2 172.16.1.1"
				}) {
					t.Errorf("no ping from ce2's loopback among %q", tc.lab.pingArgv)
				}
				for _, want := range []string{"ce2        (vrf red)   10.2.0.1       AS 65000  Established  pe1", "65000 65000 i", "and 1 FRR routers"} {
					if !strings.Contains(out.String(), want) {
						t.Errorf("output lacks %q", want)
					}
				}
				return
			}
			if err == nil || !strings.Contains(out.String(), "verdict: FAIL") {
				t.Fatalf("check passed; want a FAIL with %q\n%s", tc.want, out.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}
