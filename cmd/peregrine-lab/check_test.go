package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func (f *fakeLab) run(context.Context, string, ...string) ([]byte, error) {
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
	for _, tc := range []struct {
		name string
		lab  *fakeLab
		want string // in the output; "" means PASS
	}{
		{"healthy", &fakeLab{pingReply: replies}, ""},
		{"PE down", &fakeLab{pingReply: replies, dead: errors.New("node pe1: container clab-fake-pe1 is not running; its last output lines:\n  peregrined.yml: vrfs[0].colour: unknown key")}, "vrfs[0].colour: unknown key"},
		{"SA frozen", &fakeLab{pingReply: replies, saFrozen: true}, "SAs that carried nothing during the pings: pe1/out/0x3ea"},
		{"no replies", &fakeLab{pingReply: "timeout"}, "0/3 CE pings answered"},
		{"key in the log", &fakeLab{pingReply: replies, logText: "level=DEBUG key=" + testKey[:20]}, "KEY MATERIAL in the output or logs, from pe1/to-pe2.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := check(context.Background(), topo, tc.lab, &out)
			if tc.want == "" {
				if err != nil || !strings.Contains(out.String(), "verdict: PASS") {
					t.Fatalf("check: %v\n%s", err, out.String())
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
