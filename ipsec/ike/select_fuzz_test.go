package ike

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzChildOurs are the child proposal lists FuzzSelectChild selects
// with: an ESP peer's (AEAD and CBC) and an AH peer's (every transform,
// PFS allowed).
var fuzzChildOurs = []struct {
	proto ProtocolID
	ours  []ESPProposal
}{
	{ProtoESP, DefaultESPProposals},
	{ProtoAH, []ESPProposal{AHProposal{Integ: []Integ{IntegHMACSHA256128, IntegAES128GMAC, IntegAES256GMAC}, DH: []DHGroup{DHCurve25519}}.Child()}},
}

// fuzzSelectSeeds are SA payload bodies: AH offers (each transform, with
// ESN, with an ENCR that makes them invalid), ESP offers, and both mixed.
func fuzzSelectSeeds() map[string][]byte {
	ah := func(ps ...AHProposal) []byte {
		cs := make([]ESPProposal, len(ps))
		for i, p := range ps {
			cs[i] = p.Child()
		}
		return espSAPayload(ProtoAH, cs, 0x1000, true).Body
	}
	mixed := SA{Proposals: []Proposal{
		{Num: 1, Protocol: ProtoESP, SPI: be32(0x1000), Transforms: []Transform{transformOf(AES128GCM16), {Type: TransformESN, ID: 0}}},
		{Num: 2, Protocol: ProtoAH, SPI: be32(0x1000), Transforms: []Transform{transformOf(IntegAES256GMAC), {Type: TransformESN, ID: 1}}},
	}}
	ahEncr := SA{Proposals: []Proposal{{Num: 1, Protocol: ProtoAH, SPI: be32(0x1000), Transforms: []Transform{
		transformOf(AES128GCM16), transformOf(IntegHMACSHA256128), {Type: TransformESN, ID: 0}}}}}
	return map[string][]byte{
		"ah_hmac":         ah(AHProposal{Integ: []Integ{IntegHMACSHA256128}}),
		"ah_gmac_esn_pfs": ah(AHProposal{Integ: []Integ{IntegAES128GMAC, IntegAES256GMAC}, ESN: ESNOn, DH: []DHGroup{DHCurve25519}}),
		"ah_two":          ah(AHProposal{Integ: []Integ{IntegAES256GMAC}}, AHProposal{Integ: []Integ{IntegHMACSHA256128}, ESN: ESNOff}),
		"ah_with_encr":    ahEncr.Payload().Body,
		"esp_default":     espSAPayload(ProtoESP, DefaultESPProposals, 0x1000, false).Body,
		"esp_then_ah":     mixed.Payload().Body,
	}
}

// FuzzSelectChild feeds SA payload bodies to the child proposal
// selection of an ESP peer and an AH peer. Nothing may panic; a peer
// never selects the other protocol (no downgrade, no upgrade); an AH
// choice has an AH transform, no cipher and an offer without ENCR; and
// the responder's answer for a choice is accepted by the initiator with
// the same suite. Seeds: testdata/fuzz/FuzzSelectChild
// (TestWriteSelectCorpus).
func FuzzSelectChild(f *testing.F) {
	for _, b := range fuzzSelectSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sa, err := ParseSA(body)
		if err != nil {
			return
		}
		for _, o := range fuzzChildOurs {
			for _, dh := range []dhMode{dhIgnore, dhRequired, dhNone} {
				num, spi, s, ok := selectESP(sa, o.proto, o.ours, dh)
				_, _, _ = acceptedESP(sa, o.proto, o.ours, dh)
				if !ok {
					continue
				}
				if s.AH != (o.proto == ProtoAH) {
					t.Fatalf("%d peer selected %+v", o.proto, s)
				}
				if s.AH && (!s.Integ.ValidAH() || s.cipher() != 0 || !s.ahInteg().IsValid() || s.keyMatLen() != s.ahInteg().KeyLen()) {
					t.Fatalf("AH suite %+v", s)
				}
				if !s.AH && s.cipher() == 0 {
					t.Fatalf("ESP suite without a cipher %+v", s)
				}
				for _, p := range sa.Proposals {
					if p.Num == num && p.Protocol == o.proto && s.AH && hasType(p, TransformENCR) {
						t.Fatalf("AH selected from a proposal with ENCR: %+v", p)
					}
				}
				answer, err := ParseSA(chosenESP(num, s, spi).Body)
				if err != nil {
					t.Fatalf("answer does not parse: %v", err)
				}
				if aspi, as, ok := acceptedESP(answer, o.proto, o.ours, dh); !ok || aspi != spi || as != s {
					t.Fatalf("answer %+v not accepted as %+v: %+v %v", answer, s, as, ok)
				}
			}
		}
	})
}

// TestWriteSelectCorpus regenerates testdata/fuzz/FuzzSelectChild when
// IKE_WRITE_CORPUS=1; otherwise it checks the committed seeds parse.
func TestWriteSelectCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzSelectChild")
	for name, b := range fuzzSelectSeeds() {
		if _, err := ParseSA(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if os.Getenv("IKE_WRITE_CORPUS") != "1" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
