package ikeparam

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
		{"aes128-prf-sha256-curve25519", "no integrity algorithm"},
		{"aes128gcm16-aes256-sha256-curve25519", "separate proposals"},
		{"aes256-sha1-modp2048", `"sha1"`},
		{"aes192-sha256-modp2048", `"aes192"`},
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
		{"aes256", "no integrity algorithm"},
		{"aes256-aes128gcm16-sha256", "separate proposals"},
	} {
		var p ESPProposal
		err := p.UnmarshalText([]byte(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ESP %q: err %v, want it to mention %q", bad.in, err, bad.want)
		}
	}
}

// TestProposalTextCBC: strongSwan's meaning of the CBC strings, which the
// CBC-only peers propose (RFC 7296 section 3.3.2 proposals with INTEG).
func TestProposalTextCBC(t *testing.T) {
	for _, c := range []struct {
		in   string
		want IKEProposal
		str  string
	}{
		{"aes256-sha384-modp2048", IKEProposal{Encr: []Encr{AES256CBC}, Integ: []Integ{IntegHMACSHA384192},
			PRF: []PRF{PRFHMACSHA384}, DH: []DHGroup{DHModp2048}}, "aes256-sha384-prf-sha384-modp2048"},
		{"aes128-sha256-ecp256", IKEProposal{Encr: []Encr{AES128CBC}, Integ: []Integ{IntegHMACSHA256128},
			PRF: []PRF{PRFHMACSHA256}, DH: []DHGroup{DHECP256}}, "aes128-sha256-prf-sha256-ecp256"},
		{"aes256-aes128-sha512-sha256-prf-sha384-x25519", IKEProposal{Encr: []Encr{AES256CBC, AES128CBC},
			Integ: []Integ{IntegHMACSHA512256, IntegHMACSHA256128}, PRF: []PRF{PRFHMACSHA384}, DH: []DHGroup{DHCurve25519}},
			"aes256-aes128-sha512-sha256-prf-sha384-curve25519"},
		// An AEAD with an integrity algorithm: the PRF comes from it and
		// the integrity algorithm is dropped, as strongSwan does.
		{"aes256gcm16-sha256-x25519", IKEProposal{Encr: []Encr{AES256GCM16}, PRF: []PRF{PRFHMACSHA256},
			DH: []DHGroup{DHCurve25519}}, "aes256gcm16-prf-sha256-curve25519"},
	} {
		var p IKEProposal
		if err := p.UnmarshalText([]byte(c.in)); err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if !slices.Equal(p.Encr, c.want.Encr) || !slices.Equal(p.Integ, c.want.Integ) ||
			!slices.Equal(p.PRF, c.want.PRF) || !slices.Equal(p.DH, c.want.DH) {
			t.Errorf("%q parsed %+v, want %+v", c.in, p, c.want)
		}
		if p.String() != c.str {
			t.Errorf("%q String() = %q, want %q", c.in, p.String(), c.str)
		}
	}
	for _, c := range []struct {
		in   string
		want ESPProposal
	}{
		{"aes256-sha256", ESPProposal{Encr: []Encr{AES256CBC}, Integ: []Integ{IntegHMACSHA256128}}},
		{"aes128-sha512", ESPProposal{Encr: []Encr{AES128CBC}, Integ: []Integ{IntegHMACSHA512256}}},
		{"aes128-sha2_384-modp2048-esn", ESPProposal{Encr: []Encr{AES128CBC}, Integ: []Integ{IntegHMACSHA384192},
			DH: []DHGroup{DHModp2048}, ESN: ESNOn}},
		{"aes128gcm16-sha256", ESPProposal{Encr: []Encr{AES128GCM16}}},
	} {
		var p ESPProposal
		if err := p.UnmarshalText([]byte(c.in)); err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if !slices.Equal(p.Encr, c.want.Encr) || !slices.Equal(p.Integ, c.want.Integ) ||
			!slices.Equal(p.DH, c.want.DH) || p.ESN != c.want.ESN {
			t.Errorf("%q parsed %+v, want %+v", c.in, p, c.want)
		}
	}
}

// FuzzProposalText: any string either fails to parse or parses to a
// proposal whose String parses back to the same proposal.
func FuzzProposalText(f *testing.F) {
	for _, s := range []string{"aes128gcm16-prf-sha256-curve25519", "aes256gcm16-chacha20poly1305-esn-noesn-x25519", "prf-", "-", "aes128gcm16-prf",
		"aes256-sha384-modp2048", "aes128-sha256-ecp256", "aes256-sha256", "aes128gcm16-aes256-sha512"} {
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

func TestAHProposalText(t *testing.T) {
	var p AHProposal
	if err := p.UnmarshalText([]byte("aes128gmac-sha256-esn-curve25519")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Integ, []Integ{IntegAES128GMAC, IntegHMACSHA256128}) || p.ESN != ESNOn || !slices.Equal(p.DH, []DHGroup{DHCurve25519}) {
		t.Fatalf("parsed %+v", p)
	}
	if got := p.String(); got != "aes128gmac-sha256-curve25519-esn" {
		t.Errorf("String() = %q", got)
	}
	if c := p.Child(); len(c.Encr) != 0 || !slices.Equal(c.Integ, p.Integ) || c.ESN != ESNOn {
		t.Errorf("Child() = %+v", c)
	}
	for _, in := range []Integ{IntegHMACSHA256128, IntegAES128GMAC, IntegAES256GMAC} {
		if !in.ValidAH() {
			t.Errorf("%s not valid for AH", in)
		}
	}
	// GMAC is AH's only: IKE and AES-CBC ESP never take it.
	for _, in := range []Integ{IntegAES128GMAC, IntegAES256GMAC} {
		if in.Valid() {
			t.Errorf("%s valid outside AH", in)
		}
	}
	if IntegHMACSHA384192.ValidAH() {
		t.Error("HMAC-SHA2-384 valid for AH, which package ah does not implement")
	}
	for _, bad := range []struct{ in, want string }{
		{"", "empty"},
		{"esn", "no integrity algorithm"},
		{"aes128gcm16", "AH encrypts nothing"},
		{"sha384", `"sha384"`},
		{"sha256-prf-sha256", `"prfsha256"`},
	} {
		var p AHProposal
		err := p.UnmarshalText([]byte(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("AH %q: err %v, want it to mention %q", bad.in, err, bad.want)
		}
	}
	var e ESPProposal
	if err := e.UnmarshalText([]byte("aes128-aes128gmac")); err == nil {
		t.Error("an ESP proposal took aes128gmac as integrity")
	}
}
