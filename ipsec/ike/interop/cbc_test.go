package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// AES-CBC + HMAC-SHA2 against strongSwan (topology in strongswan_test.go),
// with the suites deployed gateways and built-in desktop IKEv2 clients
// propose. Each case runs with either side initiating; ping traffic passes
// through the CBC child SA (Peregrine's esp engine on one end, strongSwan's
// kernel-libipsec on the other) after it comes up and after every rekey.
func TestCBCWithStrongSwan(t *testing.T) {
	cases := []struct {
		name             string
		ike, esp         string // the same strings for swanctl.conf and for Peregrine
		wantIKE, wantESP string // as swanctl --list-sas prints them
	}{
		{"aes256-sha384-modp2048+aes256-sha256", "aes256-sha384-modp2048", "aes256-sha256",
			"AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_2048", "ESP:AES_CBC-256/HMAC_SHA2_256_128"},
		// PFS on child rekeys, in ECP-256.
		{"aes128-sha256-ecp256+aes128-sha512", "aes128-sha256-ecp256", "aes128-sha512-ecp256",
			"AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256", "ESP:AES_CBC-128/HMAC_SHA2_512_256"},
	}
	for _, c := range cases {
		for _, peregrineStarts := range []bool{true, false} {
			name := c.name + "/strongswan-initiates"
			if peregrineStarts {
				name = c.name + "/peregrine-initiates"
			}
			t.Run(name, func(t *testing.T) {
				_, s, pe := setup(t)
				s.loadWith(t, goodPSK, c.ike, c.esp)
				r, ech, events := peregrineWith(t, pe, goodPSK, peregrineStarts, 0, parseIKE(t, c.ike), parseESP(t, c.esp))
				if !peregrineStarts {
					if out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
						t.Fatalf("swanctl --initiate: %v\n%s", err, out)
					}
				}
				first := wait(t, events, ike.ChildUp).Child
				checkSAsWith(t, s, first, c.wantIKE, c.wantESP)
				pingThrough(t, s, ech)
				rekeyBothWays(t, s, r, ech, events, first, c.wantIKE, c.wantESP)
			})
		}
	}
}

// rekeyBothWays rekeys the child SA from each end, then the IKE SA from
// each end with a child rekey through each new IKE SA (which uses its
// SK_e, SK_a and SK_d), checking strongSwan's view and traffic each time.
func rekeyBothWays(t *testing.T, s *swan, r *ike.Runner, ech *echoer, events chan ike.Event, c ike.ChildSA, wantIKE, wantESP string) {
	t.Helper()
	rekeyChild := func(bySwan bool) {
		t.Helper()
		if bySwan {
			if out, err := s.swanctl("--rekey", "--child", "net"); err != nil {
				t.Fatalf("swanctl --rekey --child: %v\n%s", err, out)
			}
		} else {
			do(t, r, func(e *ike.Engine) error { return e.Rekey(c.InSPI) })
		}
		n := wait(t, events, ike.ChildUp).Child
		if n.Replaces != c.InSPI {
			t.Fatalf("rekeyed child replaces 0x%08x, want 0x%08x", n.Replaces, c.InSPI)
		}
		if gone := wait(t, events, ike.ChildDown).Child; gone.InSPI != c.InSPI {
			t.Fatalf("deleted 0x%08x, want the old 0x%08x", gone.InSPI, c.InSPI)
		}
		c = n
		checkSAsWith(t, s, c, wantIKE, wantESP)
		pingThrough(t, s, ech)
	}
	rekeyIKE := func(bySwan bool) {
		t.Helper()
		if bySwan {
			if out, err := s.swanctl("--rekey", "--ike", "pe"); err != nil {
				t.Fatalf("swanctl --rekey --ike: %v\n%s", err, out)
			}
		} else {
			do(t, r, func(e *ike.Engine) error { return e.RekeyIKE("sw") })
		}
		n := wait(t, events, ike.IKEUp)
		wait(t, events, ike.IKEDown)
		out := checkSAsWith(t, s, c, wantIKE, wantESP)
		if !strings.Contains(out, fmt.Sprintf("%016x_i", n.SPIi)) || !strings.Contains(out, fmt.Sprintf("%016x_r", n.SPIr)) {
			t.Fatalf("strongSwan does not show the new IKE SA %016x/%016x", n.SPIi, n.SPIr)
		}
	}
	rekeyChild(true)
	rekeyChild(false)
	rekeyIKE(true)
	rekeyChild(false)
	rekeyIKE(false)
	rekeyChild(true)
}

// do runs f on the runner's engine and fails the test on its error.
func do(t *testing.T, r *ike.Runner, f func(*ike.Engine) error) {
	t.Helper()
	var ferr error
	if err := r.Do(context.Background(), func(e *ike.Engine) { ferr = f(e) }); err != nil || ferr != nil {
		t.Fatalf("runner: %v, %v", err, ferr)
	}
}

func parseIKE(t *testing.T, s string) ike.IKEProposal {
	t.Helper()
	var p ike.IKEProposal
	if err := p.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

func parseESP(t *testing.T, s string) ike.ESPProposal {
	t.Helper()
	var p ike.ESPProposal
	if err := p.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

// Lists that mix an AEAD and a CBC proposal, in both orders, with either
// side initiating: the responder takes the initiator's first proposal it
// accepts (RFC 7296 section 2.7). strongSwan as responder prefers its own
// order unless charon.prefer_configured_proposals = no (strongswan.conf),
// which the cases set so that the outcome is the one RFC 7296 leaves to
// the initiator.
func TestMixedListsWithStrongSwan(t *testing.T) {
	const (
		ikeCBC, ikeAEAD = "aes256-sha384-modp2048", "aes128gcm16-prf-sha256-modp2048"
		espCBC, espAEAD = "aes256-sha256", "aes256gcm16"
		cbcIKE, cbcESP  = "AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_2048", "ESP:AES_CBC-256/HMAC_SHA2_256_128"
		gcmIKE, gcmESP  = "AES_GCM_16-128/PRF_HMAC_SHA2_256/MODP_2048", "ESP:AES_GCM_16-256"
	)
	cases := []struct {
		name             string
		peregrineStarts  bool
		initIKE, initESP []string // the initiator's lists, in order
		wantIKE, wantESP string
	}{
		{"strongswan offers cbc then aead", false, []string{ikeCBC, ikeAEAD}, []string{espCBC, espAEAD}, cbcIKE, cbcESP},
		{"strongswan offers aead then cbc", false, []string{ikeAEAD, ikeCBC}, []string{espAEAD, espCBC}, gcmIKE, gcmESP},
		{"peregrine offers cbc then aead", true, []string{ikeCBC, ikeAEAD}, []string{espCBC, espAEAD}, cbcIKE, cbcESP},
		{"peregrine offers aead then cbc", true, []string{ikeAEAD, ikeCBC}, []string{espAEAD, espCBC}, gcmIKE, gcmESP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, s, pe := setupWith(t, "  prefer_configured_proposals = no\n")
			// The responder lists the same proposals the other way round.
			respIKE := []string{c.initIKE[1], c.initIKE[0]}
			respESP := []string{c.initESP[1], c.initESP[0]}
			swIKE, swESP, ourIKE, ourESP := respIKE, respESP, c.initIKE, c.initESP
			if !c.peregrineStarts {
				swIKE, swESP, ourIKE, ourESP = c.initIKE, c.initESP, respIKE, respESP
			}
			s.loadWith(t, goodPSK, swanList(swIKE), swanList(swESP))
			_, ech, events := peregrineWith(t, pe, goodPSK, c.peregrineStarts, 0, ike.IKEProposal{}, ike.ESPProposal{},
				func(p *ike.PeerConfig) {
					p.IKE, p.ESP = nil, nil
					for _, x := range ourIKE {
						p.IKE = append(p.IKE, parseIKE(t, x))
					}
					for _, x := range ourESP {
						p.ESP = append(p.ESP, parseESP(t, x))
					}
				})
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

// swanList is a swanctl.conf proposal list; strongSwan writes "prf" with
// no dash.
func swanList(ps []string) string {
	return strings.ReplaceAll(strings.Join(ps, ", "), "prf-", "prf")
}

// A CBC-only gateway: a strongSwan that accepts only
// aes256-sha384-modp2048 (IKE) and aes256-sha256 (ESP), against Peregrine
// with its default proposals, either side initiating. Before CBC was in
// the defaults, strongSwan answered NO_PROPOSAL_CHOSEN.
func TestCBCOnlyGatewayWithDefaults(t *testing.T) {
	for _, peregrineStarts := range []bool{true, false} {
		t.Run(fmt.Sprintf("peregrine-initiates=%v", peregrineStarts), func(t *testing.T) {
			_, s, pe := setup(t)
			s.loadWith(t, goodPSK, "aes256-sha384-modp2048", "aes256-sha256")
			_, ech, events := peregrineWith(t, pe, goodPSK, peregrineStarts, 0, ike.IKEProposal{}, ike.ESPProposal{},
				func(p *ike.PeerConfig) { p.IKE, p.ESP = nil, nil }) // the engine's defaults
			if !peregrineStarts {
				if out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
					t.Fatalf("swanctl --initiate: %v\n%s", err, out)
				}
			}
			ev := wait(t, events, ike.ChildUp)
			checkSAsWith(t, s, ev.Child, "AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_2048", "ESP:AES_CBC-256/HMAC_SHA2_256_128")
			pingThrough(t, s, ech)
		})
	}
}
