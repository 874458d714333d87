package ike

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzParseMessage when
// IKE_WRITE_CORPUS=1; otherwise it checks the committed seeds still parse.
func TestWriteFuzzCorpus(t *testing.T) {
	seal, sealCBC := fuzzSK(t, fuzzSuites[0]), fuzzSK(t, fuzzSuites[1])
	ts := []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.1.0.0/24"))}
	cbcESP := []ESPProposal{{Encr: []Encr{AES256CBC}, Integ: []Integ{IntegHMACSHA256128}}, {Encr: []Encr{AES128GCM16}}}
	seeds := map[string][]byte{
		"ike_sa_init": initVector,
		"ike_auth": (&Message{SPIi: 1, SPIr: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1, Payloads: []Payload{
			ID{Type: IDIPv4, Data: []byte{192, 0, 2, 1}}.Payload(true), Auth{Method: AuthPSK, Data: make([]byte, 32)}.Payload(),
			espSAPayload(ProtoESP, DefaultESPProposals, 0x1000, false), TSPayload(true, ts), TSPayload(false, ts),
		}}).marshalSK(seal),
		// AES-256-CBC + HMAC-SHA2-384-192, offering a CBC then an AEAD child.
		"ike_auth_cbc": (&Message{SPIi: 1, SPIr: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1, Payloads: []Payload{
			ID{Type: IDIPv4, Data: []byte{192, 0, 2, 1}}.Payload(true), Auth{Method: AuthPSK, Data: make([]byte, 48)}.Payload(),
			espSAPayload(ProtoESP, cbcESP, 0x1000, false), TSPayload(true, ts), TSPayload(false, ts),
		}}).marshalSK(sealCBC),
		"informational_cbc": (&Message{SPIi: 1, SPIr: 2, Exchange: Informational, Flags: FlagResponse, MessageID: 4, Payloads: []Payload{
			Delete{Protocol: ProtoESP, SPIs: []uint32{0x3000}}.Payload(),
		}}).marshalSK(sealCBC),
		"create_child_sa_clear": (&Message{SPIi: 1, SPIr: 2, Exchange: CreateChildSA, MessageID: 2, Payloads: []Payload{
			Notify{Protocol: ProtoESP, SPI: be32(0x1000), Type: NotifyRekeySA}.Payload(),
			espSAPayload(ProtoESP, []ESPProposal{{Encr: []Encr{AES256GCM16}, DH: []DHGroup{DHECP256}}}, 0x2000, true),
			NoncePayload(make([]byte, 32)), KE{Group: DHECP256, Data: make([]byte, 64)}.Payload(), TSPayload(true, ts), TSPayload(false, ts),
		}}).Marshal(),
		// An AH child (RFC 4302): Protocol ID AH, INTEG and ESN, no ENCR.
		"create_child_sa_ah_clear": (&Message{SPIi: 1, SPIr: 2, Exchange: CreateChildSA, MessageID: 2, Payloads: []Payload{
			Notify{Protocol: ProtoAH, SPI: be32(0x1000), Type: NotifyRekeySA}.Payload(),
			espSAPayload(ProtoAH, []ESPProposal{AHProposal{Integ: []Integ{IntegAES128GMAC, IntegHMACSHA256128}, DH: []DHGroup{DHCurve25519}}.Child()}, 0x2000, true),
			NoncePayload(make([]byte, 32)), KE{Group: DHCurve25519, Data: make([]byte, 32)}.Payload(), TSPayload(true, ts), TSPayload(false, ts),
		}}).Marshal(),
		"informational_delete_ah": (&Message{SPIi: 1, SPIr: 2, Exchange: Informational, MessageID: 3, Payloads: []Payload{
			Delete{Protocol: ProtoAH, SPIs: []uint32{0x1000}}.Payload(),
		}}).Marshal(),
		"informational_delete": (&Message{SPIi: 1, SPIr: 2, Exchange: Informational, MessageID: 3, Payloads: []Payload{
			Delete{Protocol: ProtoESP, SPIs: []uint32{0x1000, 0x2000}}.Payload(), Delete{Protocol: ProtoIKE}.Payload(),
		}}).Marshal(),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseMessage")
	for name, b := range seeds {
		m, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.HasSuffix(name, "_cbc") {
			if err := m.open(fuzzSK(t, fuzzSuites[1])); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if os.Getenv("IKE_WRITE_CORPUS") == "1" {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
