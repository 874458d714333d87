package ike

import (
	"slices"
	"strings"
	"testing"
)

func TestProposalText(t *testing.T) {
	var p IKEProposal
	if err := p.UnmarshalText([]byte("aes128gcm16-prf-sha256-curve25519-ecp256")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Encr, []Encr{AES128GCM16}) || !slices.Equal(p.PRF, []PRF{PRFHMACSHA256}) ||
		!slices.Equal(p.DH, []DHGroup{DHCurve25519, DHECP256}) {
		t.Fatalf("parsed %+v", p)
	}
	if got := p.String(); got != "aes128gcm16-prf-sha256-curve25519-ecp256" {
		t.Errorf("String() = %q", got)
	}
	var e ESPProposal
	if err := e.UnmarshalText([]byte("aes256gcm16-chacha20poly1305-esn-x25519")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Encr, []Encr{AES256GCM16, ChaCha20Poly1305}) || e.ESN != ESNOn || !slices.Equal(e.DH, []DHGroup{DHCurve25519}) {
		t.Fatalf("parsed %+v", e)
	}
	if got := e.String(); got != "aes256gcm16-chacha20poly1305-curve25519-esn" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []struct{ in, want string }{
		{"", "empty"},
		{"aes128gcm16-prf-sha256", "no DH group"},
		{"aes128gcm16-curve25519", "no PRF"},
		{"prf-sha256-curve25519", "no cipher"},
		{"aes128-sha256-prf-sha256-curve25519", `"aes128"`},
		{"aes128gcm16--prf-sha256-curve25519", "empty algorithm"},
	} {
		var p IKEProposal
		err := p.UnmarshalText([]byte(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("IKE %q: err %v, want it to mention %q", bad.in, err, bad.want)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"curve25519", "no cipher"},
		{"aes128gcm16-prf-sha256", `"prfsha256"`},
	} {
		var p ESPProposal
		err := p.UnmarshalText([]byte(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ESP %q: err %v, want it to mention %q", bad.in, err, bad.want)
		}
	}
}

// FuzzProposalText: any string either fails to parse or parses to a
// proposal whose String parses back to the same proposal.
func FuzzProposalText(f *testing.F) {
	for _, s := range []string{"aes128gcm16-prf-sha256-curve25519", "aes256gcm16-chacha20poly1305-esn-noesn-x25519", "prf-", "-", "aes128gcm16-prf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p IKEProposal
		if p.UnmarshalText([]byte(s)) == nil {
			var q IKEProposal
			if err := q.UnmarshalText([]byte(p.String())); err != nil || q.String() != p.String() {
				t.Fatalf("IKE %q -> %q -> %q, %v", s, p.String(), q.String(), err)
			}
		}
		var e ESPProposal
		if e.UnmarshalText([]byte(s)) == nil {
			var q ESPProposal
			if err := q.UnmarshalText([]byte(e.String())); err != nil || q.String() != e.String() {
				t.Fatalf("ESP %q -> %q -> %q, %v", s, e.String(), q.String(), err)
			}
		}
	})
}
