package interop

import (
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestSuitesWithStrongSwan runs the other DH groups, PRFs and ciphers
// against strongSwan (topology in strongswan_test.go), alternating who
// initiates, and passes traffic on each child SA.
func TestSuitesWithStrongSwan(t *testing.T) {
	cases := []struct {
		name             string
		swIKE, swESP     string
		ikeP             ike.IKEProposal
		espP             ike.ESPProposal
		wantIKE, wantESP string
		peregrineStarts  bool
	}{
		{"ecp256-aes128-prfsha384", "aes128gcm16-prfsha384-ecp256", "aes128gcm16",
			ike.IKEProposal{Encr: []ike.Encr{ike.AES128GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA384}, DH: []ike.DHGroup{ike.DHECP256}},
			ike.ESPProposal{Encr: []ike.Encr{ike.AES128GCM16}},
			"AES_GCM_16-128/PRF_HMAC_SHA2_384/ECP_256", "ESP:AES_GCM_16-128", true},
		{"modp2048-chacha-prfsha512", "chacha20poly1305-prfsha512-modp2048", "chacha20poly1305",
			ike.IKEProposal{Encr: []ike.Encr{ike.ChaCha20Poly1305}, PRF: []ike.PRF{ike.PRFHMACSHA512}, DH: []ike.DHGroup{ike.DHModp2048}},
			ike.ESPProposal{Encr: []ike.Encr{ike.ChaCha20Poly1305}},
			"CHACHA20_POLY1305/PRF_HMAC_SHA2_512/MODP_2048", "ESP:CHACHA20_POLY1305", false},
		// The CBC pairs cbc_test.go leaves out: HMAC-SHA2-512-256 for IKE,
		// HMAC-SHA2-384-192 for ESP.
		{"x25519-aes256-sha512", "aes256-sha512-x25519", "aes128-sha384",
			ike.IKEProposal{Encr: []ike.Encr{ike.AES256CBC}, Integ: []ike.Integ{ike.IntegHMACSHA512256}, PRF: []ike.PRF{ike.PRFHMACSHA512}, DH: []ike.DHGroup{ike.DHCurve25519}},
			ike.ESPProposal{Encr: []ike.Encr{ike.AES128CBC}, Integ: []ike.Integ{ike.IntegHMACSHA384192}},
			"AES_CBC-256/HMAC_SHA2_512_256/PRF_HMAC_SHA2_512/CURVE_25519", "ESP:AES_CBC-128/HMAC_SHA2_384_192", true},
		{"ecp256-aes256-sha256-strongswan-starts", "aes256-sha256-ecp256", "aes256-sha512",
			ike.IKEProposal{Encr: []ike.Encr{ike.AES256CBC}, Integ: []ike.Integ{ike.IntegHMACSHA256128}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHECP256}},
			ike.ESPProposal{Encr: []ike.Encr{ike.AES256CBC}, Integ: []ike.Integ{ike.IntegHMACSHA512256}},
			"AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256", "ESP:AES_CBC-256/HMAC_SHA2_512_256", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, s, pe := setup(t)
			s.loadWith(t, goodPSK, c.swIKE, c.swESP)
			_, ech, events := peregrineWith(t, pe, goodPSK, c.peregrineStarts, 0, c.ikeP, c.espP)
			if !c.peregrineStarts {
				if out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
					t.Fatalf("swanctl --initiate: %v\n%s", err, out)
				}
			}
			ev := wait(t, events, ike.ChildUp)
			checkSAsWith(t, s, ev.Child, c.wantIKE, c.wantESP)
			pingThrough(t, s, ech)
		})
	}
}
