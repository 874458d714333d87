package ike

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzParseMessage when
// IKE_WRITE_CORPUS=1; otherwise it checks the committed seeds still parse.
func TestWriteFuzzCorpus(t *testing.T) {
	seal, _ := newSKCipher(AES128GCM16, bytes.Repeat([]byte{7}, AES128GCM16.KeyMatLen()))
	ts := []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.1.0.0/24"))}
	seeds := map[string][]byte{
		"ike_sa_init": initVector,
		"ike_auth": (&Message{SPIi: 1, SPIr: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1, Payloads: []Payload{
			ID{Type: IDIPv4, Data: []byte{192, 0, 2, 1}}.Payload(true), Auth{Method: AuthPSK, Data: make([]byte, 32)}.Payload(),
			espSAPayload(DefaultESPProposals, 0x1000, false), TSPayload(true, ts), TSPayload(false, ts),
		}}).marshalSK(seal),
		"create_child_sa_clear": (&Message{SPIi: 1, SPIr: 2, Exchange: CreateChildSA, MessageID: 2, Payloads: []Payload{
			Notify{Protocol: ProtoESP, SPI: be32(0x1000), Type: NotifyRekeySA}.Payload(),
			espSAPayload([]ESPProposal{{Encr: []Encr{AES256GCM16}, DH: []DHGroup{DHECP256}}}, 0x2000, true),
			NoncePayload(make([]byte, 32)), KE{Group: DHECP256, Data: make([]byte, 64)}.Payload(), TSPayload(true, ts), TSPayload(false, ts),
		}}).Marshal(),
		"informational_delete": (&Message{SPIi: 1, SPIr: 2, Exchange: Informational, MessageID: 3, Payloads: []Payload{
			Delete{Protocol: ProtoESP, SPIs: []uint32{0x1000, 0x2000}}.Payload(), Delete{Protocol: ProtoIKE}.Payload(),
		}}).Marshal(),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseMessage")
	for name, b := range seeds {
		if _, err := ParseMessage(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if os.Getenv("IKE_WRITE_CORPUS") == "1" {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
