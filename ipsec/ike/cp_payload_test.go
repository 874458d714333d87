package ike

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// cfgRequestVector is strongSwan's CFG_REQUEST with "vips = 0.0.0.0, ::"
// and DNS asked for, annotated field by field.
var cfgRequestVector = []byte{
	1, 0, 0, 0, // CFG_REQUEST, reserved
	0x00, 0x01, 0, 0, // INTERNAL_IP4_ADDRESS, length 0: any
	0x00, 0x08, 0, 0, // INTERNAL_IP6_ADDRESS, length 0: any
	0x00, 0x03, 0, 0, // INTERNAL_IP4_DNS, length 0
	0x00, 0x0a, 0, 0, // INTERNAL_IP6_DNS, length 0
	0x00, 0x07, 0, 3, 'X', 'Y', 'Z', // APPLICATION_VERSION "XYZ": kept, ignored
}

func TestParseCP(t *testing.T) {
	cp, err := ParseCP(cfgRequestVector)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Type != CFGRequest || len(cp.Attrs) != 5 || !cp.Asks(AttrInternalIP4Address) || !cp.Asks(AttrInternalIP6DNS) || cp.Asks(AttrInternalIP4Netmask) {
		t.Fatalf("%+v", cp)
	}
	if string(cp.Attrs[4].Value) != "XYZ" || cp.Attrs[0].Addr().IsValid() {
		t.Fatalf("attrs %+v", cp.Attrs)
	}
	reply := CP{Type: CFGReply, Attrs: []CFGAttr{
		AddrAttr(AttrInternalIP4Address, netip.MustParseAddr("10.77.0.1")),
		AddrAttr(AttrInternalIP6Address, netip.MustParseAddr("fd00:77::10")),
		AddrAttr(AttrInternalIP4DNS, netip.MustParseAddr("10.1.0.53")),
	}}
	want := []byte{
		2, 0, 0, 0, // CFG_REPLY
		0, 1, 0, 4, 10, 77, 0, 1, // INTERNAL_IP4_ADDRESS 10.77.0.1
		0, 8, 0, 17, 0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 128, // INTERNAL_IP6_ADDRESS fd00:77::10/128
		0, 3, 0, 4, 10, 1, 0, 53, // INTERNAL_IP4_DNS 10.1.0.53
	}
	p := reply.Payload()
	if p.Type != PayloadCP || !reflect.DeepEqual(p.Body, want) {
		t.Fatalf("encoded % x\nwant    % x", p.Body, want)
	}
	back, err := ParseCP(p.Body)
	if err != nil || !reflect.DeepEqual(back, reply) {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if back.Attrs[1].Addr() != netip.MustParseAddr("fd00:77::10") || back.Attrs[0].Addr() != netip.MustParseAddr("10.77.0.1") {
		t.Fatalf("addrs %v %v", back.Attrs[0].Addr(), back.Attrs[1].Addr())
	}
}

func TestParseCPBad(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":         {1, 0, 0},
		"attr header":   {1, 0, 0, 0, 0, 1},
		"overrun":       {1, 0, 0, 0, 0, 1, 0, 4, 10, 0},
		"ip4 of 3":      {1, 0, 0, 0, 0, 1, 0, 3, 10, 0, 0},
		"ip6 without n": {2, 0, 0, 0, 0, 8, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	} {
		var pe *ParseError
		if _, err := ParseCP(b); !errors.As(err, &pe) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzCPPayload feeds one body to ParseCP: nothing may panic, and what
// parses re-encodes to the same value. Seeds: testdata/fuzz/FuzzCPPayload
// (TestWriteCPFuzzCorpus).
func FuzzCPPayload(f *testing.F) {
	f.Add(cfgRequestVector)
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := ParseCP(b)
		if err != nil {
			return
		}
		again, err := ParseCP(cp.Payload().Body)
		if err != nil || !reflect.DeepEqual(again.Type, cp.Type) || len(again.Attrs) != len(cp.Attrs) {
			t.Fatalf("round trip: %+v -> %+v %v", cp, again, err)
		}
		for i, a := range cp.Attrs {
			if again.Attrs[i].Type != a.Type || string(again.Attrs[i].Value) != string(a.Value) {
				t.Fatalf("attribute %d: %+v -> %+v", i, a, again.Attrs[i])
			}
			_ = a.Addr()
		}
	})
}

// TestWriteCPFuzzCorpus regenerates testdata/fuzz/FuzzCPPayload when
// PEREGRINE_WRITE_CORPUS=1.
func TestWriteCPFuzzCorpus(t *testing.T) {
	if os.Getenv("PEREGRINE_WRITE_CORPUS") != "1" {
		t.Skip("set PEREGRINE_WRITE_CORPUS=1 to rewrite the corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCPPayload")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	reply := CP{Type: CFGReply, Attrs: []CFGAttr{
		AddrAttr(AttrInternalIP4Address, netip.MustParseAddr("10.77.0.1")),
		AddrAttr(AttrInternalIP6Address, netip.MustParseAddr("fd00:77::10")),
		AddrAttr(AttrInternalIP4DNS, netip.MustParseAddr("10.1.0.53")),
	}}.Payload().Body
	for name, b := range map[string][]byte{
		"cfg_request_strongswan": cfgRequestVector,
		"cfg_reply":              reply,
		"ip4_bad_length":         {1, 0, 0, 0, 0, 1, 0, 3, 10, 0, 0},
		"r_bit_set":              {1, 0, 0, 0, 0x80, 1, 0, 0},
		"overrun":                {1, 0, 0, 0, 0, 1, 0, 4, 10, 0},
	} {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
